// Command rulepanic is a rule that panics, inside the rule, for a batch
// holding an item "hostile": the SDK recovers and fails the batch. Other
// batches get the identity rule.
package main

import "github.com/syncrules/syncrules/sdk"

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.ID() == "hostile" {
				panic("boom from inside the rule")
			}
		}
		return nil
	}))
}

func main() {}
