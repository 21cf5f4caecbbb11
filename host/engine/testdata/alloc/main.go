// Command alloc is a rule that allocates garbage on every call, to prove
// that the SDK's yields keep a reactor's memory flat.
package main

import "github.com/syncrules/syncrules/sdk"

var sink [][]byte

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		garbage := make([][]byte, 0, 16)
		for range 16 {
			garbage = append(garbage, make([]byte, 4096))
		}
		sink = garbage // only the last call's garbage stays reachable
		for _, it := range b.Items() {
			for w := range b.NumWarehouses() {
				it.SetQuantity(w, int64(len(garbage)))
			}
		}
		return nil
	}))
}

func main() {}
