// Package defaultrule is the default inventory rule: location mapping, the
// percentage and the maximum, as docs/rules.md states them.
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

// stackTables is the number of locations and warehouses up to which
// Compute keeps its tables on the stack and allocates nothing.
const stackTables = 16

// Compute sets every item's quantity in every warehouse of b.
func Compute(b *sdk.Batch) error {
	nl, nw, nm := b.NumLocations(), b.NumWarehouses(), b.NumMappings()
	var (
		locActiveA [stackTables]bool
		whActiveA  [stackTables]bool
		mapLocA    [stackTables]int
		mapWhA     [stackTables]int
		t          tablesOnStack
	)
	locActive, whActive := table(locActiveA[:], nl), table(whActiveA[:], nw)
	mapLoc, mapWh := table(mapLocA[:], nm), table(mapWhA[:], nm)
	for l := range locActive {
		locActive[l] = b.LocationActive(l)
	}
	for w := range whActive {
		whActive[w] = b.WarehouseActive(w)
	}
	for m := range mapLoc {
		mp := b.Mapping(m)
		mapLoc[m], mapWh[m] = mp.Location, mp.Warehouse
	}
	tb := t.tables(nl, nw)
	if l, w1, w2 := tb.resolve(locActive, whActive, mapLoc, mapWh); l >= 0 {
		// The host refuses such settings; a rule never counts stock twice.
		return fmt.Errorf("location %q feeds both %q and %q", b.Location(l).ID, b.Warehouse(w1).ID, b.Warehouse(w2).ID)
	}
	s := b.Settings()
	computeItems(b, tb.srcs, tb.start, tb.fed, s.Percentage, s.MaxQuantity)
	if b.Explaining() {
		for _, it := range b.Items() {
			explain(b, it, tb)
		}
	}
	return nil
}

// tables are the default rule's view of the mappings.
type tables struct {
	feeds  []int  // the warehouse active location l feeds, or -1
	mapped []bool // a mapping targets the warehouse
	fed    []bool // an active location feeds the active warehouse
	srcs   []int  // the locations feeding each warehouse, warehouse after warehouse;
	start  []int  // warehouse w's are srcs[start[w]:start[w+1]]
}

// tablesOnStack holds the tables of a small shop without allocating.
type tablesOnStack struct {
	feeds, srcs   [stackTables]int
	start         [stackTables + 1]int
	mapped, fedWh [stackTables]bool
}

func (t *tablesOnStack) tables(nl, nw int) tables {
	return tables{
		feeds: table(t.feeds[:], nl), srcs: table(t.srcs[:], nl), start: table(t.start[:], nw+1),
		mapped: table(t.mapped[:], nw), fed: table(t.fedWh[:], nw),
	}
}

// resolve fills the tables from the mappings. It returns -1, or a location
// that two mappings send to two warehouses: that is refused whatever the
// active flags, as the host refuses it, so settings do not start failing the
// day a location or warehouse is switched on. It calls nothing, which keeps
// it cheap in WebAssembly.
func (t tables) resolve(locActive, whActive []bool, mapLoc, mapWh []int) (conflict, w1, w2 int) {
	for l := range t.feeds {
		t.feeds[l] = -1
	}
	for m, w := range mapWh {
		t.mapped[w] = true
		first, last := mapLoc[m], mapLoc[m]
		if first == sdk.AllLocations {
			first, last = 0, len(locActive)-1
		}
		for l := first; l <= last; l++ {
			if t.feeds[l] >= 0 && t.feeds[l] != w {
				return l, t.feeds[l], w
			}
			t.feeds[l] = w
		}
	}
	for l, w := range t.feeds {
		switch {
		case w < 0:
		case !locActive[l] || !whActive[w]:
			t.feeds[l] = -1
		default:
			t.fed[w] = true
		}
	}
	n := 0
	for w := range t.fed {
		t.start[w] = n
		for l, fw := range t.feeds {
			if fw == w {
				t.srcs[n] = l
				n++
			}
		}
	}
	t.start[len(t.fed)] = n
	return -1, -1, -1
}

// table returns a slice of n zeros, in a's storage (all zero) when it fits.
func table[T any](a []T, n int) []T {
	if n > len(a) {
		return make([]T, n)
	}
	return a[:n]
}

// computeItems sets every item's quantities. Its loop makes no calls: Go's
// WebAssembly backend turns a loop around a call into a dispatch loop that
// costs several times the arithmetic (RATIONALE.md, "Why is the default
// rule's item loop call-free?").
func computeItems(b *sdk.Batch, srcs, start []int, fed []bool, percentage, maxQ int64) {
	for i := range b.Len() {
		it := b.Item(i)
		available, q := it.Stock(), it.Quantities()
		unlimited := !it.Tracked() || it.ContinueSelling()
		for w := range q {
			switch {
			case !fed[w]:
				q[w] = 0
			case unlimited:
				q[w] = int32(maxQ)
			default:
				var sum int64
				for _, l := range srcs[start[w]:start[w+1]] {
					sum += int64(available[l])
				}
				q[w] = int32(min(max(sum, 0)*percentage/10000, maxQ))
			}
		}
	}
}

// explain records, for each active warehouse, how the item's quantity came
// about, so a merchant can read why 985 became 788.
func explain(b *sdk.Batch, it sdk.Item, t tables) {
	unlimited := !it.Tracked() || it.ContinueSelling()
	s := b.Settings()
	for w := range b.NumWarehouses() {
		if !b.WarehouseActive(w) {
			continue
		}
		switch {
		case !t.mapped[w]:
			it.Explain(w, slog.String("basis", BasisUnmapped))
		case !t.fed[w]:
			it.Explain(w, slog.String("basis", BasisNoActiveLocation))
		case unlimited:
			basis := BasisUntracked
			if it.Tracked() {
				basis = BasisContinueSelling
			}
			it.Explain(w, slog.String("basis", basis), slog.Int64("max_quantity", s.MaxQuantity))
		default:
			var sources []slog.Attr
			var sum int64
			for l, fw := range t.feeds {
				if fw == w {
					sources = append(sources, slog.Int64(b.Location(l).ID, it.Available(l)))
					sum += it.Available(l)
				}
			}
			total := max(sum, 0)
			scaled := total * s.Percentage
			floor := scaled / 10000
			it.Explain(w,
				slog.String("basis", BasisAvailable),
				slog.Attr{Key: "available", Value: slog.GroupValue(sources...)},
				slog.Int64("sum", sum),
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
