// Command module is the default rule as a WebAssembly module. The Makefile
// builds it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(defaultrule.Rule) }

func main() {}
