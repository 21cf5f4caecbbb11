package defaultrule_test

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// Property tests. rapid runs 100 cases per property (20 with -short);
// -rapid.checks=N runs more.

// shopSize bounds a generated shop.
type shopSize struct{ minLoc, maxLoc, minWh, maxWh, maxItems int }

var smallShop = shopSize{minLoc: 1, maxLoc: 6, minWh: 1, maxWh: 4, maxItems: 6}

// item kinds a generator may draw.
type itemKind int

const (
	anyItem       itemKind = iota // tracked or not, continue selling or not
	trackedItem                   // tracked, does not continue selling
	unlimitedItem                 // untracked or continue selling, or both
)

// genShop draws a shop: locations L0.. and warehouses W0.. with random
// active flags, and valid mappings: either one "*" mapping, or distinct
// locations each to one warehouse (possibly none at all).
func genShop(t *rapid.T, size shopSize) sdktest.Batch {
	var b sdktest.Batch
	nl := rapid.IntRange(size.minLoc, size.maxLoc).Draw(t, "locations")
	nw := rapid.IntRange(size.minWh, size.maxWh).Draw(t, "warehouses")
	var ids []string
	for l := range nl {
		id := fmt.Sprintf("L%d", l)
		ids = append(ids, id)
		b.Locations = append(b.Locations, sdktest.Location{ID: id, Active: rapid.Bool().Draw(t, id+".active")})
	}
	for w := range nw {
		id := fmt.Sprintf("W%d", w)
		b.Warehouses = append(b.Warehouses, sdktest.Warehouse{ID: id, Active: rapid.Bool().Draw(t, id+".active"), Default: w == 0})
	}
	warehouse := rapid.IntRange(0, nw-1)
	if rapid.Bool().Draw(t, "star") {
		b.Mappings = []sdktest.Mapping{{Location: "*", Warehouse: fmt.Sprintf("W%d", warehouse.Draw(t, "*.to"))}}
	} else {
		mapped := rapid.SliceOfDistinct(rapid.SampledFrom(ids), func(id string) string { return id }).Draw(t, "mapped")
		for _, l := range mapped {
			b.Mappings = append(b.Mappings, sdktest.Mapping{Location: l, Warehouse: fmt.Sprintf("W%d", warehouse.Draw(t, l+".to"))})
		}
	}
	return b
}

// genSettings draws a percentage of 0..100% in basis points and a maximum,
// favouring the values that matter.
func genSettings(t *rapid.T) sdk.Settings {
	return sdk.Settings{
		Percentage: rapid.OneOf(
			rapid.Int64Range(0, abi.MaxPercentage),
			rapid.SampledFrom([]int64{0, 1, 3333, 5000, 8000, 9999, 10000}),
		).Draw(t, "percentage"),
		MaxQuantity: rapid.OneOf(
			rapid.Int64Range(1, 2_000_000),
			rapid.SampledFrom([]int64{1, 99_999, 999_999, math.MaxInt32}),
		).Draw(t, "max_quantity"),
	}
}

// genAvailable draws a stock level: small, wide, negative or extreme.
func genAvailable(nonNegative bool) *rapid.Generator[int64] {
	if nonNegative {
		return rapid.OneOf(
			rapid.Int64Range(0, 1_000),
			rapid.Int64Range(0, 3_000_000),
			rapid.SampledFrom([]int64{0, 1, 999_999, 1_000_000, math.MaxInt32}),
		)
	}
	return rapid.OneOf(
		rapid.Int64Range(-1_000, 1_000),
		rapid.Int64Range(-3_000_000, 3_000_000),
		rapid.SampledFrom([]int64{math.MinInt32, -1, 0, 1, 999_999, 1_000_000, math.MaxInt32}),
	)
}

// genItems draws items with stock at some of the batch's locations.
func genItems(t *rapid.T, b sdktest.Batch, maxItems int, kind itemKind, nonNegative bool) []sdktest.Item {
	n := rapid.IntRange(1, maxItems).Draw(t, "items")
	its := make([]sdktest.Item, n)
	for i := range its {
		it := &its[i]
		it.ID = fmt.Sprintf("v-%d", i)
		switch kind {
		case anyItem:
			it.Untracked = rapid.SampledFrom([]bool{false, false, false, true}).Draw(t, it.ID+".untracked")
			it.ContinueSelling = rapid.SampledFrom([]bool{false, false, false, true}).Draw(t, it.ID+".continue_selling")
		case unlimitedItem:
			switch rapid.IntRange(0, 2).Draw(t, it.ID+".unlimited") {
			case 0:
				it.Untracked = true
			case 1:
				it.ContinueSelling = true
			default:
				it.Untracked, it.ContinueSelling = true, true
			}
		}
		it.Available = map[string]int64{}
		for _, l := range b.Locations {
			if rapid.IntRange(0, 4).Draw(t, it.ID+"."+l.ID+".stocked") > 0 {
				it.Available[l.ID] = genAvailable(nonNegative).Draw(t, it.ID+"."+l.ID)
			}
		}
	}
	return its
}

// genBatch draws a whole batch of a small shop.
func genBatch(t *rapid.T, kind itemKind) sdktest.Batch {
	b := genShop(t, smallShop)
	b.Settings = genSettings(t)
	b.Items = genItems(t, b, smallShop.maxItems, kind, false)
	return b
}

// model is the rule as the project states it, written to be obviously
// right rather than fast: sets of location ids, math/big arithmetic.
type model struct {
	settings sdk.Settings
	active   map[string]bool            // warehouse id → active
	mapped   map[string]bool            // warehouse id → a mapping targets it
	sources  map[string]map[string]bool // active warehouse id → the active locations feeding it
}

func newModel(b sdktest.Batch) model {
	m := model{settings: b.Settings, active: map[string]bool{}, mapped: map[string]bool{}, sources: map[string]map[string]bool{}}
	if m.settings == (sdk.Settings{}) {
		m.settings = sdk.Settings{Percentage: 10000, MaxQuantity: 999_999}
	}
	locActive := map[string]bool{}
	for _, l := range b.Locations {
		locActive[l.ID] = l.Active
	}
	for _, w := range b.Warehouses {
		m.active[w.ID] = w.Active
		m.sources[w.ID] = map[string]bool{}
	}
	for _, mp := range b.Mappings {
		m.mapped[mp.Warehouse] = true
		if !m.active[mp.Warehouse] {
			continue // an inactive warehouse receives nothing
		}
		for _, l := range b.Locations {
			if l.Active && (mp.Location == "*" || mp.Location == l.ID) {
				m.sources[mp.Warehouse][l.ID] = true
			}
		}
	}
	return m
}

// fed reports whether wh is an active warehouse with an active location.
func (m model) fed(wh string) bool { return m.active[wh] && len(m.sources[wh]) > 0 }

// sum is Σ available over the active locations feeding wh.
func (m model) sum(it sdktest.Item, wh string) *big.Int {
	s := new(big.Int)
	for l := range m.sources[wh] {
		s.Add(s, big.NewInt(it.Available[l]))
	}
	return s
}

// total is max(0, sum).
func (m model) total(it sdktest.Item, wh string) *big.Int {
	s := m.sum(it, wh)
	if s.Sign() < 0 {
		s.SetInt64(0)
	}
	return s
}

// exact is total × percentage / 100, as a fraction.
func (m model) exact(it sdktest.Item, wh string) *big.Rat {
	r := new(big.Rat).SetInt(m.total(it, wh))
	return r.Mul(r, big.NewRat(m.settings.Percentage, 10000))
}

// floor is floor(exact).
func (m model) floor(it sdktest.Item, wh string) int64 {
	e := m.exact(it, wh)
	return new(big.Int).Quo(e.Num(), e.Denom()).Int64() // e ≥ 0: truncation is floor
}

func unlimited(it sdktest.Item) bool { return it.Untracked || it.ContinueSelling }

// quantity is what the rule must publish for it in wh.
func (m model) quantity(it sdktest.Item, wh string) int64 {
	switch {
	case !m.fed(wh):
		return 0
	case unlimited(it):
		return m.settings.MaxQuantity
	default:
		return min(m.floor(it, wh), m.settings.MaxQuantity)
	}
}

// basis is the explanation's basis for it in wh, or "" for an inactive
// warehouse, which gets no note.
func (m model) basis(it sdktest.Item, wh string) string {
	switch {
	case !m.active[wh]:
		return ""
	case !m.mapped[wh]:
		return defaultrule.BasisUnmapped
	case !m.fed(wh):
		return defaultrule.BasisNoActiveLocation
	case it.Untracked:
		return defaultrule.BasisUntracked
	case it.ContinueSelling:
		return defaultrule.BasisContinueSelling
	default:
		return defaultrule.BasisAvailable
	}
}

// (a) Every quantity is within [0, MaxQuantity], and an inactive warehouse
// gets 0.
func TestPropertyBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t, anyItem)
		res := run(t, b)
		for i := range b.Items {
			for _, w := range b.Warehouses {
				q := res.Items[i].Quantities[w.ID]
				if q < 0 || q > b.Settings.MaxQuantity {
					t.Fatalf("item %d %s: %d outside [0, %d]", i, w.ID, q, b.Settings.MaxQuantity)
				}
				if !w.Active && q != 0 {
					t.Fatalf("item %d inactive %s: %d, want 0", i, w.ID, q)
				}
			}
		}
	})
}

// (b) A tracked item never gets more than floor(max(0, total) × percentage):
// the rule never publishes stock that is not there.
func TestPropertyNeverAbovePercentageOfStock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genShop(t, smallShop)
		b.Settings = genSettings(t)
		b.Items = genItems(t, b, smallShop.maxItems, trackedItem, false)
		m := newModel(b)
		res := run(t, b)
		for i, it := range b.Items {
			for _, w := range b.Warehouses {
				// bound = floor(total × bp / 10000), in integers.
				bound := new(big.Int).Mul(m.total(it, w.ID), big.NewInt(b.Settings.Percentage))
				bound.Quo(bound, big.NewInt(10000))
				if q := res.Items[i].Quantities[w.ID]; big.NewInt(q).Cmp(bound) > 0 {
					t.Fatalf("item %d %s: %d > floor(total %v × %d bp) = %v", i, w.ID, q, m.total(it, w.ID), b.Settings.Percentage, bound)
				}
			}
		}
	})
}

// (c) At 100% with non-negative stock, a fed warehouse gets min(total, max).
func TestPropertyFullPercentageIsTotal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genShop(t, smallShop)
		b.Settings = genSettings(t)
		b.Settings.Percentage = 10000
		b.Items = genItems(t, b, smallShop.maxItems, trackedItem, true)
		m := newModel(b)
		res := run(t, b)
		for i, it := range b.Items {
			for _, w := range b.Warehouses {
				if !m.fed(w.ID) {
					continue
				}
				var total int64
				for l := range m.sources[w.ID] {
					total += it.Available[l]
				}
				if q, want := res.Items[i].Quantities[w.ID], min(total, b.Settings.MaxQuantity); q != want {
					t.Fatalf("item %d %s: %d, want min(%d, %d) = %d", i, w.ID, q, total, b.Settings.MaxQuantity, want)
				}
			}
		}
	})
}

// (d) More stock at one location never lowers any warehouse's quantity.
// The item and its restocked copy run in the same batch.
func TestPropertyMonotone(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t, anyItem)
		i := rapid.IntRange(0, len(b.Items)-1).Draw(t, "item")
		loc := rapid.SampledFrom(b.Locations).Draw(t, "location").ID
		more := b.Items[i]
		more.ID += "+"
		more.Available = map[string]int64{}
		for k, v := range b.Items[i].Available {
			more.Available[k] = v
		}
		old := more.Available[loc]
		more.Available[loc] = min(old+rapid.Int64Range(0, 3_000_000).Draw(t, "increase"), math.MaxInt32)
		b.Items = append(b.Items, more)
		res := run(t, b)
		before, after := res.Items[i].Quantities, res.Items[len(b.Items)-1].Quantities
		for _, w := range b.Warehouses {
			if after[w.ID] < before[w.ID] {
				t.Fatalf("%s: %s from %d to %d lowered %s from %d to %d", more.ID, loc, old, more.Available[loc], w.ID, before[w.ID], after[w.ID])
			}
		}
	})
}

// (e) An untracked or continue-selling item gets exactly MaxQuantity in
// every active warehouse an active location feeds, and 0 everywhere else.
func TestPropertyUnlimitedItems(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genShop(t, smallShop)
		b.Settings = genSettings(t)
		b.Items = genItems(t, b, smallShop.maxItems, unlimitedItem, false)
		m := newModel(b)
		res := run(t, b)
		for i := range b.Items {
			for _, w := range b.Warehouses {
				want := int64(0)
				if m.fed(w.ID) {
					want = b.Settings.MaxQuantity
				}
				if q := res.Items[i].Quantities[w.ID]; q != want {
					t.Fatalf("item %d %s (active %v, fed by %v): %d, want %d", i, w.ID, w.Active, m.sources[w.ID], q, want)
				}
			}
		}
	})
}

// (f) Differential: the rule agrees with the model on every item and
// warehouse.
func TestPropertyMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		checkModel(t, genBatch(t, anyItem))
	})
}

func checkModel(t *rapid.T, b sdktest.Batch) {
	m := newModel(b)
	res := run(t, b)
	for i, it := range b.Items {
		for _, w := range b.Warehouses {
			if q, want := res.Items[i].Quantities[w.ID], m.quantity(it, w.ID); q != want {
				t.Fatalf("item %d %s: rule %d, model %d (sources %v, settings %+v, item %+v)", i, w.ID, q, want, m.sources[w.ID], m.settings, it)
			}
		}
	}
}

// (f, larger) The same over shops beyond the 16 locations and warehouses
// the rule keeps on the stack, and over many items.
func TestPropertyMatchesModelLargeShops(t *testing.T) {
	if testing.Short() {
		t.Skip("large shops: skipped with -short")
	}
	rapid.Check(t, func(t *rapid.T) {
		size := shopSize{minLoc: 1, maxLoc: 40, minWh: 1, maxWh: 24, maxItems: 40}
		b := genShop(t, size)
		b.Settings = genSettings(t)
		b.Items = genItems(t, b, size.maxItems, anyItem, false)
		checkModel(t, b)
	})
}

// exactDecimal is a non-negative decimal without exponent, sign or
// trailing zeros, as the explanation writes them.
var exactDecimal = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`)

func parseDecimal(t *rapid.T, what, s string) *big.Rat {
	if !exactDecimal.MatchString(s) {
		t.Fatalf("%s %q is not an exact decimal", what, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("%s %q does not parse", what, s)
	}
	return r
}

// (g) With Explain on, the explanation never disagrees with the number
// published: min(floor, max_quantity) is the quantity, "exact" is
// total × percentage / 100 exactly, and so on. Explaining changes no
// quantity.
func TestPropertyExplanationAgrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t, anyItem)
		if rapid.Bool().Draw(t, "max at a floor") {
			// Put the maximum exactly at a floor, where capped turns.
			m := newModel(b)
			for _, it := range b.Items {
				for _, w := range b.Warehouses {
					if f := m.floor(it, w.ID); m.fed(w.ID) && f >= 1 && f <= math.MaxInt32 {
						b.Settings.MaxQuantity = f
					}
				}
			}
		}
		plain := run(t, b)
		b.Explain = true
		res := run(t, b)
		m := newModel(b)
		for i, it := range b.Items {
			if n := res.Items[i].Notes[""]; len(n) != 0 {
				t.Fatalf("item %d has a whole-item note %v", i, n)
			}
			for _, w := range b.Warehouses {
				q := res.Items[i].Quantities[w.ID]
				if q != plain.Items[i].Quantities[w.ID] {
					t.Fatalf("item %d %s: %d explained, %d not", i, w.ID, q, plain.Items[i].Quantities[w.ID])
				}
				checkNote(t, m, it, w, q, res.Items[i].Notes[w.ID])
			}
		}
	})
}

func checkNote(t *rapid.T, m model, it sdktest.Item, w sdktest.Warehouse, q int64, attrs []abi.Attr) {
	where := fmt.Sprintf("%s %s", it.ID, w.ID)
	want := m.basis(it, w.ID)
	if want == "" {
		if len(attrs) != 0 {
			t.Fatalf("%s: inactive warehouse has a note %v", where, attrs)
		}
		return
	}
	n := notes(t, attrs)
	if n["basis"] != want {
		t.Fatalf("%s: basis %v, want %q (note %v)", where, n["basis"], want, n)
	}
	keys := func(ks ...string) {
		got := make([]string, 0, len(n))
		for k := range n {
			got = append(got, k)
		}
		slices.Sort(got)
		slices.Sort(ks)
		if !slices.Equal(got, ks) {
			t.Fatalf("%s: note keys %v, want %v", where, got, ks)
		}
	}
	switch want {
	case defaultrule.BasisUnmapped, defaultrule.BasisNoActiveLocation:
		keys("basis")
		if q != 0 {
			t.Fatalf("%s: basis %s but quantity %d", where, want, q)
		}
	case defaultrule.BasisUntracked, defaultrule.BasisContinueSelling:
		keys("basis", "max_quantity")
		if n["max_quantity"] != m.settings.MaxQuantity || q != m.settings.MaxQuantity {
			t.Fatalf("%s: basis %s, max_quantity %v, quantity %d, setting %d", where, want, n["max_quantity"], q, m.settings.MaxQuantity)
		}
	case defaultrule.BasisAvailable:
		keys("basis", "available", "sum", "total", "percentage", "exact", "floor", "max_quantity", "capped")
		group, ok := n["available"].(map[string]any)
		if !ok {
			t.Fatalf("%s: available is %T, want a group", where, n["available"])
		}
		var groupSum int64
		for l, v := range group {
			if !m.sources[w.ID][l] {
				t.Fatalf("%s: available lists %s, which does not feed it (sources %v)", where, l, m.sources[w.ID])
			}
			if v != it.Available[l] {
				t.Fatalf("%s: available[%s] = %v, item has %d", where, l, v, it.Available[l])
			}
			groupSum += it.Available[l]
		}
		if len(group) != len(m.sources[w.ID]) {
			t.Fatalf("%s: available lists %v, sources are %v", where, group, m.sources[w.ID])
		}
		sum, total, floor, maxQ := n["sum"].(int64), n["total"].(int64), n["floor"].(int64), n["max_quantity"].(int64)
		if sum != groupSum || big.NewInt(sum).Cmp(m.sum(it, w.ID)) != 0 {
			t.Fatalf("%s: sum %d, group sums to %d, model %v", where, sum, groupSum, m.sum(it, w.ID))
		}
		if total != max(sum, 0) {
			t.Fatalf("%s: total %d, sum %d", where, total, sum)
		}
		percentage := parseDecimal(t, "percentage", n["percentage"].(string))
		if percentage.Cmp(big.NewRat(m.settings.Percentage, 100)) != 0 {
			t.Fatalf("%s: percentage %q, setting %d bp", where, n["percentage"], m.settings.Percentage)
		}
		exact := parseDecimal(t, "exact", n["exact"].(string))
		wantExact := new(big.Rat).Mul(new(big.Rat).SetInt64(total), percentage)
		wantExact.Quo(wantExact, big.NewRat(100, 1))
		if exact.Cmp(wantExact) != 0 {
			t.Fatalf("%s: exact %q, total × percentage / 100 = %s", where, n["exact"], wantExact.FloatString(6))
		}
		if f := new(big.Int).Quo(exact.Num(), exact.Denom()); !f.IsInt64() || f.Int64() != floor {
			t.Fatalf("%s: floor %d, floor(exact %q) = %v", where, floor, n["exact"], f)
		}
		if maxQ != m.settings.MaxQuantity {
			t.Fatalf("%s: max_quantity %d, setting %d", where, maxQ, m.settings.MaxQuantity)
		}
		if n["capped"] != (floor > maxQ) {
			t.Fatalf("%s: capped %v, floor %d, max %d", where, n["capped"], floor, maxQ)
		}
		if min(floor, maxQ) != q {
			t.Fatalf("%s: note says min(floor %d, max %d) = %d, published %d", where, floor, maxQ, min(floor, maxQ), q)
		}
	}
}

// A location sent to two active warehouses is always refused, naming it,
// wherever the second mapping lands in the list.
func TestPropertyConflictRefused(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genShop(t, smallShop)
		// Make sure an active location and two active warehouses exist.
		l := rapid.IntRange(0, len(b.Locations)-1).Draw(t, "conflicting location")
		b.Locations[l].Active = true
		for len(b.Warehouses) < 2 {
			b.Warehouses = append(b.Warehouses, sdktest.Warehouse{ID: fmt.Sprintf("W%d", len(b.Warehouses))})
		}
		perm := rapid.Permutation(b.Warehouses).Draw(t, "warehouses")
		w1, w2 := perm[0].ID, perm[1].ID
		for k := range b.Warehouses {
			if id := b.Warehouses[k].ID; id == w1 || id == w2 {
				b.Warehouses[k].Active = true
			}
		}
		// Drop what the shop mapped for the location (and any *), then map
		// it twice.
		lid := b.Locations[l].ID
		b.Mappings = slices.DeleteFunc(b.Mappings, func(m sdktest.Mapping) bool { return m.Location == lid || m.Location == "*" })
		first := rapid.SampledFrom([]sdktest.Mapping{{Location: lid, Warehouse: w1}, {Location: "*", Warehouse: w1}}).Draw(t, "first")
		if first.Location == "*" {
			b.Mappings = nil // * is a shop's only mapping
		}
		b.Mappings = append(b.Mappings, first)
		b.Mappings = slices.Insert(b.Mappings, rapid.IntRange(0, len(b.Mappings)).Draw(t, "at"), sdktest.Mapping{Location: lid, Warehouse: w2})
		b.Settings = genSettings(t)
		b.Items = genItems(t, b, 2, anyItem, false)
		_, err := sdktest.Run(defaultrule.Rule, b)
		if err == nil {
			t.Fatalf("mappings %v: no error", b.Mappings)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", lid)) {
			t.Fatalf("mappings %v: error %q does not name %s", b.Mappings, err, lid)
		}
	})
}
