// Command hugestatic is an identity rule with a 96 MiB static array, which
// raises the module's initial memory above 96 MiB.
package main

import "github.com/syncrules/syncrules/sdk"

var ballast [96 << 20]byte

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		// Touch the array so the linker keeps it.
		ballast[b.Len()%len(ballast)]++
		return nil
	}))
}

func main() {}
