// Command leak is a rule that keeps everything it allocates: the control
// that shows the memory-flatness test can see growth.
package main

import "github.com/syncrules/syncrules/sdk"

var kept [][]byte

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		kept = append(kept, make([]byte, 4096))
		return nil
	}))
}

func main() {}
