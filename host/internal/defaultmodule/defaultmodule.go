// Package defaultmodule holds the default rule module built into the
// binary. The Makefile compiles ./rules/defaultrule/module to default.wasm
// here and builds the host with -tags syncrules_embed; a plain go build
// leaves the module out, so the repository builds and vets on a fresh clone
// without a wasm toolchain step.
package defaultmodule

// Bytes returns the built-in default rule module, or nil when the binary was
// built without it.
func Bytes() []byte { return embedded }
