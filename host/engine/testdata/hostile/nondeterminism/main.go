// Command nondeterminism is a rule that fails every item with a report of
// what should differ between runs: the wall clock, the monotonic clock,
// crypto/rand, and math/rand (old and new). The host must make them all
// deterministic, so two fresh engines see the same report.
package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand"
	mrand2 "math/rand/v2"
	"time"

	"github.com/syncrules/syncrules/sdk"
)

var start = time.Now()

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		key := make([]byte, 16)
		_, err := crand.Read(key)
		report := fmt.Errorf("now=%s since_start=%d crypto=%s crypto_err=%v math_rand=%d math_rand_v2=%d",
			time.Now().UTC().Format(time.RFC3339Nano), time.Since(start), hex.EncodeToString(key), err,
			mrand.Int63(), mrand2.Uint64())
		for _, it := range b.Items() {
			it.Fail(report)
		}
		return nil
	}))
}

func main() {}
