// Package defaultrule is the default inventory rule: location mapping, the
// percentage and the maximum, exactly as DOMAIN.md §1 states them.
//
// For each active warehouse w and item:
//
//	untracked or continue selling:  q = MaxQuantity if an active location feeds w
//	otherwise:                      q = min(MaxQuantity, floor(max(0, Σ available) × bp / 10000))
//
// where the sum runs over the active locations mapped to w. A warehouse that
// no active location feeds gets 0. The arithmetic is integer throughout.
//
// The package runs natively (tests, benchmarks' baseline) and, through the
// module in ./module, as the WebAssembly module the host runs.
package defaultrule

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/syncrules/syncrules/sdk"
)

// Rule is the default rule.
var Rule sdk.Rule = sdk.RuleFunc(Compute)

// Basis values of an explanation: why a warehouse got its quantity.
const (
	BasisAvailable        = "available"          // the sum of available stock
	BasisUntracked        = "untracked"          // Shopify does not track the quantity
	BasisContinueSelling  = "continue_selling"   // Shopify sells when out of stock
	BasisUnmapped         = "unmapped"           // no mapping feeds the warehouse
	BasisNoActiveLocation = "no_active_location" // only inactive locations are mapped to it
)

// Compute sets every item's quantity in every warehouse of b.
func Compute(b *sdk.Batch) error {
	nl, nw := b.NumLocations(), b.NumWarehouses()
	s := b.Settings()

	// feeds[l] is the warehouse active location l feeds, or -1.
	feeds := make([]int, nl)
	for l := range feeds {
		feeds[l] = -1
	}
	mapped := make([]bool, nw) // a mapping targets the warehouse
	fed := make([]bool, nw)    // an active location feeds the active warehouse
	feed := func(l, w int) error {
		if !b.Location(l).Active {
			return nil
		}
		if feeds[l] >= 0 && feeds[l] != w {
			return fmt.Errorf("location %q feeds both %q and %q", b.Location(l).ID, b.Warehouse(feeds[l]).ID, b.Warehouse(w).ID)
		}
		feeds[l] = w
		return nil
	}
	for m := range b.NumMappings() {
		mp := b.Mapping(m)
		mapped[mp.Warehouse] = true
		if !b.Warehouse(mp.Warehouse).Active {
			continue
		}
		if mp.Location != sdk.AllLocations {
			if err := feed(mp.Location, mp.Warehouse); err != nil {
				return err
			}
			continue
		}
		for l := range nl {
			if err := feed(l, mp.Warehouse); err != nil {
				return err
			}
		}
	}
	for _, w := range feeds {
		if w >= 0 {
			fed[w] = true
		}
	}
	active := make([]bool, nw)
	for w := range nw {
		active[w] = b.Warehouse(w).Active
	}

	sums := make([]int64, nw)
	for i := range b.Len() {
		it := b.Item(i)
		unlimited := !it.Tracked() || it.ContinueSelling()
		if !unlimited {
			clear(sums)
			for l, w := range feeds {
				if w >= 0 {
					sums[w] += it.Available(l)
				}
			}
		}
		for w := range nw {
			var q int64
			switch {
			case !active[w] || !fed[w]:
				q = 0
			case unlimited:
				q = s.MaxQuantity
			default:
				q = min(max(sums[w], 0)*s.Percentage/10000, s.MaxQuantity)
			}
			it.SetQuantity(w, q)
		}
		if b.Explaining() {
			explain(b, it, feeds, mapped, fed, sums, unlimited)
		}
	}
	return nil
}

// explain records, for each active warehouse, how the item's quantity came
// about, so a merchant can read why 985 became 788.
func explain(b *sdk.Batch, it sdk.Item, feeds []int, mapped, fed []bool, sums []int64, unlimited bool) {
	s := b.Settings()
	for w := range b.NumWarehouses() {
		if !b.Warehouse(w).Active {
			continue
		}
		switch {
		case !mapped[w]:
			it.Explain(w, slog.String("basis", BasisUnmapped))
		case !fed[w]:
			it.Explain(w, slog.String("basis", BasisNoActiveLocation))
		case unlimited:
			basis := BasisUntracked
			if it.Tracked() {
				basis = BasisContinueSelling
			}
			it.Explain(w, slog.String("basis", basis), slog.Int64("max_quantity", s.MaxQuantity))
		default:
			var sources []slog.Attr
			for l, fw := range feeds {
				if fw == w {
					sources = append(sources, slog.Int64(b.Location(l).ID, it.Available(l)))
				}
			}
			total := max(sums[w], 0)
			scaled := total * s.Percentage
			floor := scaled / 10000
			it.Explain(w,
				slog.String("basis", BasisAvailable),
				slog.Attr{Key: "available", Value: slog.GroupValue(sources...)},
				slog.Int64("sum", sums[w]),
				slog.Int64("total", total),
				slog.String("percentage", decimal(s.Percentage, 100)),
				slog.String("exact", decimal(scaled, 10000)),
				slog.Int64("floor", floor),
				slog.Int64("max_quantity", s.MaxQuantity),
				slog.Bool("capped", floor > s.MaxQuantity),
			)
		}
	}
}

// decimal formats n/unit exactly, without trailing zeros: decimal(3333, 100)
// is "33.33". n must not be negative.
func decimal(n, unit int64) string {
	whole := strconv.FormatInt(n/unit, 10)
	frac := n % unit
	if frac == 0 {
		return whole
	}
	f := strconv.FormatInt(frac+unit, 10)[1:] // zero-padded; unit is a power of 10
	return whole + "." + strings.TrimRight(f, "0")
}
