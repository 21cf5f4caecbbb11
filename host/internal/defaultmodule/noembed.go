//go:build !syncrules_embed

package defaultmodule

var embedded []byte
