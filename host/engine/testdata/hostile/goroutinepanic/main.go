// Command goroutinepanic is a rule that, for a batch holding an item
// "hostile", panics in a goroutine of its own, where the SDK's recovery
// cannot reach: the Go runtime aborts the module. With an item
// "deep-hostile" the goroutine panics 200 calls deep, so the crash report
// after the panic's message runs to many kilobytes. Other batches get the
// identity rule.
package main

import (
	"runtime"

	"github.com/syncrules/syncrules/sdk"
)

//go:noinline
func deep(n int) {
	if n == 0 {
		panic("boom from deep in a goroutine of the rule")
	}
	deep(n - 1)
}

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			switch it.ID() {
			case "hostile":
				go func() { panic("boom from a goroutine of the rule") }()
			case "deep-hostile":
				go deep(200)
			default:
				continue
			}
			for {
				runtime.Gosched()
			}
		}
		return nil
	}))
}

func main() {}
