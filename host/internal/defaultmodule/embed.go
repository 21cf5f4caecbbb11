//go:build syncrules_embed

package defaultmodule

import _ "embed"

//go:embed default.wasm
var embedded []byte
