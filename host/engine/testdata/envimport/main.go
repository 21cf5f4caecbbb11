// Command envimport imports a function the host does not provide.
package main

import "github.com/syncrules/syncrules/sdk"

func init() {
	sdk.Register(sdk.RuleFunc(func(*sdk.Batch) error { steal(); return nil }))
}

func main() {}

//go:wasmimport env steal_secrets
func steal()
