// Command chaos is a plugin whose behaviour per item is chosen by the
// item's tags, so that the chain's tests can make any item fail in any way.
// Untagged items lose one unit in every active warehouse.
//
//	panic     the rule panics (the SDK fails the whole batch)
//	trap      an out-of-bounds memory access (the instance traps)
//	loop      the rule never returns
//	fail      Item.Fail
//	negative  quantity -5
//	huge      quantity 2,000,000
//	inactive  quantity 7 in every inactive warehouse
//	print     writes a line to stdout
//	notes     when explaining, 40 small notes about the item
//	bignotes  when explaining, 12 notes of 100 bytes about the item
//
// Params {"refuse": true} are refused.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unsafe"

	"github.com/syncrules/syncrules/sdk"
)

type params struct {
	Refuse bool `json:"refuse"`
}

func (p params) Validate() error {
	if p.Refuse {
		return errors.New("refuse is set")
	}
	return nil
}

var spins uint64

func rule(b *sdk.Batch, _ params) error {
	for _, it := range b.Items() {
		q := it.Quantities()
		switch {
		case it.HasTag("panic"):
			panic("chaos: panic on " + it.ID())
		case it.HasTag("trap"):
			p := (*byte)(unsafe.Pointer(uintptr(0xfffffff0)))
			*p = 1
		case it.HasTag("loop"):
			for {
				spins++
			}
		case it.HasTag("fail"):
			it.Fail(fmt.Errorf("chaos: %s failed", it.ID()))
		}
		for w := range q {
			if !b.WarehouseActive(w) {
				if it.HasTag("inactive") {
					q[w] = 7
				}
				continue
			}
			switch {
			case it.HasTag("negative"):
				q[w] = -5
			case it.HasTag("huge"):
				q[w] = 2_000_000
			default:
				q[w] = max(0, q[w]-1)
			}
		}
		if b.Explaining() && it.HasTag("notes") {
			for k := range 40 {
				it.Explain(-1, slog.Int(fmt.Sprintf("n%d", k), k))
			}
		}
		if b.Explaining() && it.HasTag("bignotes") {
			for k := range 12 {
				it.Explain(-1, slog.String(fmt.Sprintf("b%d", k), strings.Repeat("x", 100)))
			}
		}
		if it.HasTag("print") {
			fmt.Println("chaos says hello from", it.ID())
		}
	}
	return nil
}

func init() { sdk.Register(sdk.WithParams(params{}, rule)) }

func main() {}
