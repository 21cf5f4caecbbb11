// Command initloop is a rule module whose package initialisation never
// ends: the host runs it when it loads the module, before any call, and
// must stop it.
package main

import "github.com/syncrules/syncrules/sdk"

var spins uint64

func init() {
	sdk.Register(sdk.RuleFunc(func(*sdk.Batch) error { return nil }))
	for {
		spins++
	}
}

func main() {}
