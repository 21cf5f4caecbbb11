package defaultrule_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// The statements of the rule (docs/rules.md) the table cases check.
const (
	s1Source   = "A source is either one location id or `*`, meaning every active location."
	s1Once     = "A location may feed at most one warehouse ... counting the same stock twice oversells."
	s1Summed   = "Several locations may feed the same warehouse; their stock is summed."
	s1ActLoc   = "Only active locations count. A mapped location that is inactive contributes nothing."
	s1ActWh    = "Only active pickup (sales) warehouses receive stock. A mapping to an inactive warehouse produces no quantity for it."
	s1Default  = "Default when a shop has no mappings: `*` → the shop's default warehouse. (The host adds it; the rule is given the mappings.)"
	s2Formula  = "q = floor(max(0, Σ available of its mapped active locations) × percentage / 100)."
	s2Negative = "Negative available values are included in the sum, and only the total is clamped at 0."
	s2OnTotal  = "The percentage is applied to the warehouse total, never per location (A=1, B=1 at 50% gives 1, not 0)."
	s2Floor    = "Rounding is always down: never publish stock that is not there."
	s2Seed     = "Seed: 985 × 80% = 788; all active (100 + 200) → α = 300; 80% with A → β gives β = 80."
	s3Range    = "Percentage. Default 100. Any value from 0 to 100 inclusive with at most two decimals (e.g. 33.33)."
	s3Integer  = "Compute it exactly, in integer basis points (q = floor(total × bp / 10000)), never in floating point."
	s4Max      = "If tracked is false, or continue_selling is true, every mapped active warehouse gets max_quantity (the percentage is not applied)."
	s4Cap      = "Every result is capped at max_quantity."
	s4Setting  = "max_quantity defaults to 999,999 ... it is a setting, and a real deployment can lower it."
	s5Unfed    = "An active warehouse that no mapping feeds therefore gets 0."
	s5Seed     = "This matches the seed's total: with A → β at 80%, the shop shows 80 in all."
)

// Shop building blocks. The seed's shop: locations A and B, warehouses α
// (default) and β, all active.
func locs(ls ...sdktest.Location) []sdktest.Location   { return ls }
func whs(ws ...sdktest.Warehouse) []sdktest.Warehouse  { return ws }
func mappings(ms ...sdktest.Mapping) []sdktest.Mapping { return ms }
func on(id string) sdktest.Location                    { return sdktest.Location{ID: id, Active: true} }
func off(id string) sdktest.Location                   { return sdktest.Location{ID: id} }
func whOn(id string) sdktest.Warehouse                 { return sdktest.Warehouse{ID: id, Active: true} }
func whOff(id string) sdktest.Warehouse                { return sdktest.Warehouse{ID: id} }
func to(loc, wh string) sdktest.Mapping                { return sdktest.Mapping{Location: loc, Warehouse: wh} }
func pct(bp int64) sdk.Settings                        { return sdk.Settings{Percentage: bp, MaxQuantity: 999_999} }
func pctMax(bp, max int64) sdk.Settings                { return sdk.Settings{Percentage: bp, MaxQuantity: max} }
func stock(kv ...any) map[string]int64                 { return kvs(kv) }
func want(kv ...any) map[string]int64                  { return kvs(kv) }
func tracked(av map[string]int64) sdktest.Item         { return sdktest.Item{ID: "v", Available: av} }
func untracked(av map[string]int64) sdktest.Item {
	return sdktest.Item{ID: "v", Untracked: true, Available: av}
}
func continueSelling(av map[string]int64) sdktest.Item {
	return sdktest.Item{ID: "v", ContinueSelling: true, Available: av}
}
func items(its ...sdktest.Item) []sdktest.Item        { return its }
func wants(ws ...map[string]int64) []map[string]int64 { return ws }
func alphaDefault() sdktest.Warehouse {
	return sdktest.Warehouse{ID: "α", Active: true, Default: true}
}
func seedShop() ([]sdktest.Location, []sdktest.Warehouse) {
	return locs(on("A"), on("B")), whs(alphaDefault(), whOn("β"))
}

func kvs(kv []any) map[string]int64 {
	m := make(map[string]int64, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			m[kv[i].(string)] = int64(v)
		case int64:
			m[kv[i].(string)] = v
		default:
			panic(fmt.Sprintf("kvs: %T", v))
		}
	}
	return m
}

// fataler is what testing.TB and *rapid.T have in common for run.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// run runs the default rule on b through sdktest, as the host does, and
// fails the test on a batch error or an item error.
func run(t fataler, b sdktest.Batch) *sdktest.Result {
	t.Helper()
	res, err := sdktest.Run(defaultrule.Rule, b)
	if err != nil {
		t.Fatalf("sdktest.Run: %v", err)
	}
	for i, it := range res.Items {
		if it.Err != "" {
			t.Fatalf("item %d failed: %s", i, it.Err)
		}
	}
	return res
}

type domainCase struct {
	name     string
	sentence string // the sentence of the rule the case checks
	batch    sdktest.Batch
	want     []map[string]int64 // per item, the quantity of every warehouse
}

func domainCases() []domainCase {
	sl, sw := seedShop()
	three := locs(on("A"), on("B"), on("C"))
	return []domainCase{
		// The seed's three examples first.
		{
			name: "seed/985 at 80% is 788", sentence: s2Seed,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(8000), Items: items(tracked(stock("A", 985))),
			},
			want: wants(want("α", 788)),
		},
		{
			name: "seed/all active locations to α: A=100 B=200 gives α=300 β=0", sentence: s2Seed,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 300, "β", 0)),
		},
		{
			name: "seed/80% with A to β gives β=80 α=0", sentence: s5Seed,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "β")),
				Settings: pct(8000), Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 0, "β", 80)),
		},

		// §1.1 Mapping.
		{
			name: "mapping/an explicit source counts that location only", sentence: s1Source,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 100, "β", 0)),
		},
		{
			name: "mapping/* counts every active location", sentence: s1Source,
			batch: sdktest.Batch{
				Locations: three, Warehouses: sw, Mappings: mappings(to("*", "β")),
				Items: items(tracked(stock("A", 100, "B", 200, "C", 300))),
			},
			want: wants(want("α", 0, "β", 600)),
		},
		{
			name: "mapping/several locations into one warehouse are summed", sentence: s1Summed,
			batch: sdktest.Batch{
				Locations: three, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "α"), to("C", "β")),
				Items: items(tracked(stock("A", 100, "B", 200, "C", 50))),
			},
			want: wants(want("α", 300, "β", 50)),
		},
		{
			name: "mapping/a location with no stock record counts 0", sentence: s1Summed,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "α")),
				Items: items(tracked(stock("A", 7))),
			},
			want: wants(want("α", 7, "β", 0)),
		},
		{
			name: "mapping/an inactive location mapped explicitly contributes nothing", sentence: s1ActLoc,
			batch: sdktest.Batch{
				Locations: locs(on("A"), off("B")), Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 100, "β", 0)),
		},
		{
			name: "mapping/* skips inactive locations", sentence: s1ActLoc,
			batch: sdktest.Batch{
				Locations: locs(on("A"), off("B"), on("C")), Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 100, "B", 200, "C", 50))),
			},
			want: wants(want("α", 150, "β", 0)),
		},
		{
			name: "mapping/an inactive location's negative stock is not owed either", sentence: s1ActLoc,
			batch: sdktest.Batch{
				Locations: locs(on("A"), off("B")), Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 100, "B", -90))),
			},
			want: wants(want("α", 100, "β", 0)),
		},
		{
			name: "mapping/a mapping to an inactive warehouse publishes nothing there", sentence: s1ActWh,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: whs(whOff("α"), whOn("β")), Mappings: mappings(to("A", "α"), to("B", "β")),
				Items: items(sdktest.Item{ID: "v", Available: stock("A", 100, "B", 200), Quantities: want("α", 7, "β", 7)}),
			},
			want: wants(want("α", 0, "β", 200)),
		},
		{
			name: "mapping/* to an inactive warehouse publishes nothing anywhere", sentence: s1ActWh,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: whs(alphaDefault(), whOff("β")), Mappings: mappings(to("*", "β")),
				Items: items(tracked(stock("A", 100, "B", 200)), untracked(nil)),
			},
			want: wants(want("α", 0, "β", 0), want("α", 0, "β", 0)),
		},
		{
			name: "mapping/an inactive warehouse gets 0 even for an untracked item", sentence: s1ActWh,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: whs(alphaDefault(), whOff("β")), Mappings: mappings(to("A", "α"), to("B", "β")),
				Items: items(untracked(nil), continueSelling(nil)),
			},
			want: wants(want("α", 999_999, "β", 0), want("α", 999_999, "β", 0)),
		},
		{
			name: "mapping/a location repeated to the same warehouse is counted once", sentence: s1Once,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("A", "α"), to("B", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 300, "β", 0)),
		},
		{
			// The host refuses * with another mapping; given it anyway, the
			// rule must still count A once.
			name: "mapping/* plus A to the same warehouse counts A once", sentence: s1Once,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α"), to("A", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 300, "β", 0)),
		},
		{
			name: "mapping/with no mappings the rule feeds nothing (the host adds * → default)", sentence: s1Default,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw,
				Items: items(tracked(stock("A", 100, "B", 200)), untracked(nil)),
			},
			want: wants(want("α", 0, "β", 0), want("α", 0, "β", 0)),
		},
		{
			name: "mapping/* → default, what the host sends for a shop with no mappings", sentence: s1Default,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			want: wants(want("α", 300, "β", 0)),
		},

		// §1.2 Sum, then percentage, then floor.
		{
			name: "sum/A=-5 B=3 sums to -2, clamped to 0", sentence: s2Negative,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", -5, "B", 3))),
			},
			want: wants(want("α", 0, "β", 0)),
		},
		{
			name: "sum/A=-5 B=10 at 100% is 5, not 10", sentence: s2Negative,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", -5, "B", 10))),
			},
			want: wants(want("α", 5, "β", 0)),
		},
		{
			name: "sum/A=-5 B=10 at 80% is floor(5×0.8)=4", sentence: s2Formula,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pct(8000), Items: items(tracked(stock("A", -5, "B", 10))),
			},
			want: wants(want("α", 4, "β", 0)),
		},
		{
			name: "sum/a negative location owes only its own warehouse", sentence: s2Negative,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Items: items(tracked(stock("A", -50, "B", 10))),
			},
			want: wants(want("α", 0, "β", 10)),
		},
		{
			name: "sum/three MinInt32 locations clamp to 0", sentence: s2Negative,
			batch: sdktest.Batch{
				Locations: three, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", math.MinInt32, "B", math.MinInt32, "C", math.MinInt32))),
			},
			want: wants(want("α", 0, "β", 0)),
		},
		{
			name: "sum/MaxInt32 + MinInt32 is -1, clamped to 0", sentence: s2Negative,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pctMax(10000, math.MaxInt32), Items: items(tracked(stock("A", math.MaxInt32, "B", math.MinInt32))),
			},
			want: wants(want("α", 0, "β", 0)),
		},
		{
			name: "percentage/A=1 B=1 at 50% is 1 (on the total), not 0", sentence: s2OnTotal,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pct(5000), Items: items(tracked(stock("A", 1, "B", 1))),
			},
			want: wants(want("α", 1, "β", 0)),
		},
		{
			name: "percentage/A=3 B=3 at 50% is 3 (on the total), not 1+1", sentence: s2OnTotal,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "β"), to("B", "β")),
				Settings: pct(5000), Items: items(tracked(stock("A", 3, "B", 3))),
			},
			want: wants(want("α", 0, "β", 3)),
		},
		{
			name: "floor/33.33% of 985 is 328 (328.3005)", sentence: s2Floor,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(3333), Items: items(tracked(stock("A", 985))),
			},
			want: wants(want("α", 328)),
		},
		{
			name: "floor/99.99% of 1 is 0", sentence: s2Floor,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(9999), Items: items(tracked(stock("A", 1))),
			},
			want: wants(want("α", 0)),
		},
		{
			name: "floor/50% of 3 is 1, not 2", sentence: s2Floor,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(5000), Items: items(tracked(stock("A", 3))),
			},
			want: wants(want("α", 1)),
		},
		{
			name: "floor/80% of 999 is 799 (799.2)", sentence: s2Floor,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(8000), Items: items(tracked(stock("A", 999))),
			},
			want: wants(want("α", 799)),
		},

		// §1.3 Percentage.
		{
			name: "percentage/zero Settings mean 100% and 999,999", sentence: s3Range,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 985)), tracked(stock("A", 5_000_000))),
			},
			want: wants(want("α", 985), want("α", 999_999)),
		},
		{
			name: "percentage/0% publishes 0", sentence: s3Range,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(0), Items: items(tracked(stock("A", 985)), tracked(stock("A", 999_999))),
			},
			want: wants(want("α", 0), want("α", 0)),
		},
		{
			name: "percentage/100% publishes the total", sentence: s3Range,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pct(10000), Items: items(tracked(stock("A", 985, "B", 15))),
			},
			want: wants(want("α", 1000, "β", 0)),
		},
		{
			name: "percentage/0.01% of 10,000 is 1", sentence: s3Range,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(1), Items: items(tracked(stock("A", 10_000)), tracked(stock("A", 9_999))),
			},
			want: wants(want("α", 1), want("α", 0)),
		},
		{
			name: "percentage/29% of 100 is 29 (float64 gives 28.999…)", sentence: s3Integer,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(2900), Items: items(tracked(stock("A", 100))),
			},
			want: wants(want("α", 29)),
		},
		{
			name: "percentage/57% of 100 is 57 (float64 gives 56.999…)", sentence: s3Integer,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault(), whOn("β")), Mappings: mappings(to("*", "α")),
				Settings: pct(5700), Items: items(tracked(stock("A", 100))),
			},
			want: wants(want("α", 57, "β", 0)),
		},
		{
			name: "percentage/58% of 100 is 58 (float64 gives 57.999…)", sentence: s3Integer,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(5800), Items: items(tracked(stock("A", 100))),
			},
			want: wants(want("α", 58)),
		},
		{
			name: "percentage/3×MaxInt32 at 99.99% with max MaxInt32 does not overflow", sentence: s3Integer,
			batch: sdktest.Batch{
				Locations: three, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pctMax(9999, math.MaxInt32), Items: items(tracked(stock("A", math.MaxInt32, "B", math.MaxInt32, "C", math.MaxInt32))),
			},
			want: wants(want("α", math.MaxInt32, "β", 0)),
		},
		{
			name: "percentage/MaxInt32 at 33.33% is exact", sentence: s3Integer,
			batch: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pctMax(3333, math.MaxInt32), Items: items(tracked(stock("A", math.MaxInt32))),
			},
			want: wants(want("α", int64(math.MaxInt32)*3333/10000)), // 715,748,947
		},

		// §1.4 The maximum.
		{
			name: "max/untracked gets max in every fed active warehouse, unmapped α still 0", sentence: s4Max,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "β")),
				Settings: pct(5000), Items: items(untracked(stock("A", 3))),
			},
			want: wants(want("α", 0, "β", 999_999)),
		},
		{
			name: "max/untracked ignores the percentage and negative stock", sentence: s4Max,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pct(0), Items: items(untracked(stock("A", -10, "B", 0))),
			},
			want: wants(want("α", 999_999, "β", 999_999)),
		},
		{
			name: "max/continue selling gets max in every fed active warehouse, unmapped still 0", sentence: s4Max,
			batch: sdktest.Batch{
				Locations: three, Warehouses: whs(alphaDefault(), whOn("β"), whOn("γ")), Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pct(8000), Items: items(continueSelling(stock("A", 5, "B", -5))),
			},
			want: wants(want("α", 999_999, "β", 999_999, "γ", 0)),
		},
		{
			name: "max/untracked and continue selling gets max", sentence: s4Max,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "β")),
				Settings: pct(3333), Items: items(sdktest.Item{ID: "v", Untracked: true, ContinueSelling: true}),
			},
			want: wants(want("α", 0, "β", 999_999)),
		},
		{
			name: "max/items of one batch are computed independently", sentence: s4Max,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pct(8000),
				Items: items(
					tracked(stock("A", 985, "B", 10)),
					untracked(stock("A", 985, "B", 10)),
					continueSelling(stock("A", 0, "B", -3)),
					tracked(stock("A", -1, "B", 1)),
				),
			},
			want: wants(want("α", 788, "β", 8), want("α", 999_999, "β", 999_999), want("α", 999_999, "β", 999_999), want("α", 0, "β", 0)),
		},
		{
			name: "cap/total 2,000,000 at 100% is 999,999", sentence: s4Cap,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 1_000_000, "B", 1_000_000))),
			},
			want: wants(want("α", 999_999, "β", 0)),
		},
		{
			name: "cap/applies after the percentage: 2,000,000 at 50% is 999,999", sentence: s4Cap,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pct(5000), Items: items(tracked(stock("A", 2_000_000))),
			},
			want: wants(want("α", 999_999, "β", 0)),
		},
		{
			name: "cap/just under: 1,999,996 at 50% is 999,998", sentence: s4Cap,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pct(5000), Items: items(tracked(stock("A", 1_999_996))),
			},
			want: wants(want("α", 999_998, "β", 0)),
		},
		{
			name: "cap/exactly the maximum is kept", sentence: s4Cap,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 999_999))),
			},
			want: wants(want("α", 999_999, "β", 0)),
		},
		{
			name: "cap/a lowered maximum of 99,999 caps tracked stock", sentence: s4Setting,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pctMax(10000, 99_999), Items: items(tracked(stock("A", 150_000, "B", 99_999))),
			},
			want: wants(want("α", 99_999, "β", 99_999)),
		},
		{
			name: "cap/a lowered maximum of 99,999 is what untracked items get", sentence: s4Setting,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pctMax(8000, 99_999), Items: items(untracked(nil), continueSelling(nil)),
			},
			want: wants(want("α", 99_999, "β", 0), want("α", 99_999, "β", 0)),
		},
		{
			name: "cap/a maximum of 1", sentence: s4Setting,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pctMax(5000, 1), Items: items(tracked(stock("A", 1_000, "B", 1)), untracked(nil)),
			},
			want: wants(want("α", 1, "β", 0), want("α", 1, "β", 1)),
		},

		// §1.5 Warehouses no mapping feeds.
		{
			name: "unfed/an active warehouse no mapping targets gets 0", sentence: s5Unfed,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: whs(alphaDefault(), whOn("β"), whOn("γ")), Mappings: mappings(to("A", "α"), to("B", "β")),
				Items: items(tracked(stock("A", 1, "B", 2)), untracked(nil)),
			},
			want: wants(want("α", 1, "β", 2, "γ", 0), want("α", 999_999, "β", 999_999, "γ", 0)),
		},
		{
			name: "unfed/an active warehouse fed only by inactive locations gets 0, even untracked", sentence: s5Unfed,
			batch: sdktest.Batch{
				Locations: locs(on("A"), off("B")), Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Items: items(tracked(stock("A", 10, "B", 20)), untracked(nil), continueSelling(nil)),
			},
			want: wants(want("α", 10, "β", 0), want("α", 999_999, "β", 0), want("α", 999_999, "β", 0)),
		},
		{
			name: "unfed/* with every location inactive feeds nothing, even untracked", sentence: s5Unfed,
			batch: sdktest.Batch{
				Locations: locs(off("A"), off("B")), Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 10, "B", 20)), untracked(nil)),
			},
			want: wants(want("α", 0, "β", 0), want("α", 0, "β", 0)),
		},
		{
			name: "unfed/the rule overwrites quantities an earlier stage left", sentence: s5Unfed,
			batch: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α")),
				Items: items(sdktest.Item{ID: "v", Available: stock("A", 5), Quantities: want("α", 100, "β", 100)}),
			},
			want: wants(want("α", 5, "β", 0)),
		},
	}
}

// TestDomainRule checks every sentence of the rule, points 1 to 5, with
// and without an explanation: explaining must not change a quantity.
func TestDomainRule(t *testing.T) {
	for _, tc := range domainCases() {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) != len(tc.batch.Items) {
				t.Fatalf("bad case: %d items, %d wants", len(tc.batch.Items), len(tc.want))
			}
			for _, explain := range []bool{false, true} {
				b := tc.batch
				b.Explain = explain
				res := run(t, b)
				for i, w := range tc.want {
					if got := res.Items[i].Quantities; !maps.Equal(got, w) {
						t.Errorf("explain=%v item %d: got %v, want %v\n%s", explain, i, got, w, tc.sentence)
					}
				}
			}
		})
	}
}

// TestLargeShop goes beyond the 16 locations and warehouses the rule keeps
// on the stack: 20 locations, L_i → W_(i mod 18), with an inactive location
// and an inactive warehouse.
func TestLargeShop(t *testing.T) {
	const nl, nw = 20, 18
	var b sdktest.Batch
	av := map[string]int64{}
	for i := range nl {
		id := fmt.Sprintf("L%d", i)
		b.Locations = append(b.Locations, sdktest.Location{ID: id, Active: i != 5})
		b.Mappings = append(b.Mappings, to(id, fmt.Sprintf("W%d", i%nw)))
		av[id] = int64(10 * (i + 1))
	}
	for w := range nw {
		b.Warehouses = append(b.Warehouses, sdktest.Warehouse{ID: fmt.Sprintf("W%d", w), Active: w != 7})
	}
	b.Warehouses = append(b.Warehouses, whOn("unmapped"))
	b.Settings = pct(5000)
	b.Items = items(tracked(av), untracked(nil))
	res := run(t, b)
	for w := range nw {
		id := fmt.Sprintf("W%d", w)
		var total, lim int64
		for i := w; i < nl; i += nw {
			if i != 5 {
				total += int64(10 * (i + 1))
				lim = 999_999
			}
		}
		if w == 7 {
			total, lim = 0, 0
		}
		if got := res.Items[0].Quantities[id]; got != total/2 {
			t.Errorf("tracked %s: got %d, want %d", id, got, total/2)
		}
		if got := res.Items[1].Quantities[id]; got != lim {
			t.Errorf("untracked %s: got %d, want %d", id, got, lim)
		}
	}
	for i := range 2 {
		if got := res.Items[i].Quantities["unmapped"]; got != 0 {
			t.Errorf("item %d unmapped warehouse: got %d, want 0", i, got)
		}
	}
}

// TestConflictRefused: a location mapped to two different warehouses is an
// error of the whole batch that names the location (§1.1 "A location may
// feed at most one warehouse ... Reject such settings with a validation
// error that names the conflict").
func TestConflictRefused(t *testing.T) {
	sl, sw := seedShop()
	for _, tc := range []struct {
		name     string
		mappings []sdktest.Mapping
	}{
		{"A to α and to β", mappings(to("A", "α"), to("B", "α"), to("A", "β"))},
		{"* to α and A to β", mappings(to("*", "α"), to("A", "β"))},
		{"A to β and * to α", mappings(to("A", "β"), to("*", "α"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdktest.Run(defaultrule.Rule, sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: tc.mappings,
				Items: items(tracked(stock("A", 100, "B", 200))),
			})
			if err == nil {
				t.Fatalf("no error; quantities %v", res.Items[0].Quantities)
			}
			if !errors.Is(err, sdktest.ErrRuleFailed) {
				t.Errorf("error %v does not wrap sdktest.ErrRuleFailed", err)
			}
			if !strings.Contains(err.Error(), `"A"`) {
				t.Errorf("error %q does not name location A", err)
			}
		})
	}
}

// TestConflictRefusedWhateverTheActiveFlags: a location mapped to two
// warehouses is refused even while one side is inactive, as the host refuses
// such settings (the rule, point 1), so they do not start failing the day the
// warehouse or location is switched on.
func TestConflictRefusedWhateverTheActiveFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    sdktest.Batch
	}{
		{"A to α and to inactive β", sdktest.Batch{
			Locations: locs(on("A")), Warehouses: whs(alphaDefault(), whOff("β")),
			Mappings: mappings(to("A", "α"), to("A", "β")),
		}},
		{"inactive A to α and to β", sdktest.Batch{
			Locations: locs(on("B"), off("A")), Warehouses: whs(alphaDefault(), whOn("β")),
			Mappings: mappings(to("A", "α"), to("A", "β")),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Items = items(tracked(stock("A", 100)))
			res, err := sdktest.Run(defaultrule.Rule, tc.b)
			if err == nil {
				t.Fatalf("no error (quantities %v); want one wrapping sdktest.ErrRuleFailed naming \"A\"", res.Items[0].Quantities)
			}
			if !errors.Is(err, sdktest.ErrRuleFailed) || !strings.Contains(err.Error(), `"A"`) {
				t.Errorf("error %v: want one wrapping sdktest.ErrRuleFailed naming \"A\"", err)
			}
		})
	}
}

// errorer is what testing.T and rapid.T have in common.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// notes converts a note's attributes to comparable values: bool, int64,
// string, or map[string]any for a group. A repeated key is an error.
func notes(t errorer, attrs []abi.Attr) map[string]any {
	t.Helper()
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		if _, dup := m[a.Key]; dup {
			t.Errorf("attribute %q repeated", a.Key)
		}
		switch a.Kind {
		case abi.KindBool:
			m[a.Key] = a.Bool
		case abi.KindInt64:
			m[a.Key] = a.Int64
		case abi.KindUint64:
			m[a.Key] = a.Uint64
		case abi.KindFloat64:
			m[a.Key] = a.Float64
		case abi.KindString:
			m[a.Key] = a.String
		case abi.KindGroup:
			m[a.Key] = notes(t, a.Group)
		default:
			t.Errorf("attribute %q has kind %d", a.Key, a.Kind)
		}
	}
	return m
}

// availableNote is the note of a warehouse whose basis is "available".
func availableNote(sources map[string]any, sum, total int64, percentage, exact string, floor, maxQ int64) map[string]any {
	return map[string]any{
		"basis": defaultrule.BasisAvailable, "available": sources, "sum": sum, "total": total,
		"percentage": percentage, "exact": exact, "floor": floor, "max_quantity": maxQ, "capped": floor > maxQ,
	}
}

func basisNote(basis string) map[string]any { return map[string]any{"basis": basis} }

func maxNote(basis string, maxQ int64) map[string]any {
	return map[string]any{"basis": basis, "max_quantity": maxQ}
}

// TestExplain checks the notes that tell a merchant why 985 became 788: one
// note per active warehouse, none for inactive ones, exact decimals.
func TestExplain(t *testing.T) {
	sl, sw := seedShop()
	for _, tc := range []struct {
		name  string
		b     sdktest.Batch
		notes map[string]map[string]any // by warehouse id, for item 0
	}{
		{
			name: "seed 985 at 80%",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("*", "α")),
				Settings: pct(8000), Items: items(tracked(stock("A", 985))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(985)}, 985, 985, "80", "788", 788, 999_999)},
		},
		{
			name: "seed all active to α, β unmapped",
			b: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Items: items(tracked(stock("A", 100, "B", 200))),
			},
			notes: map[string]map[string]any{
				"α": availableNote(map[string]any{"A": int64(100), "B": int64(200)}, 300, 300, "100", "300", 300, 999_999),
				"β": basisNote(defaultrule.BasisUnmapped),
			},
		},
		{
			name: "33.33% of 985",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("A", "α")),
				Settings: pct(3333), Items: items(tracked(stock("A", 985))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(985)}, 985, 985, "33.33", "328.3005", 328, 999_999)},
		},
		{
			name: "0.01% of 1",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("A", "α")),
				Settings: pct(1), Items: items(tracked(stock("A", 1))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(1)}, 1, 1, "0.01", "0.0001", 0, 999_999)},
		},
		{
			name: "50.5% of 3",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("A", "α")),
				Settings: pct(5050), Items: items(tracked(stock("A", 3))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(3)}, 3, 3, "50.5", "1.515", 1, 999_999)},
		},
		{
			name: "0%",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("A", "α")),
				Settings: pct(0), Items: items(tracked(stock("A", 985))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(985)}, 985, 985, "0", "0", 0, 999_999)},
		},
		{
			name: "negative sum clamped, inactive location left out",
			b: sdktest.Batch{
				Locations: locs(on("A"), on("B"), off("C")), Warehouses: sw, Mappings: mappings(to("A", "β"), to("B", "β"), to("C", "β")),
				Settings: pct(8000), Items: items(tracked(stock("A", -5, "B", 3, "C", 1000))),
			},
			notes: map[string]map[string]any{
				"α": basisNote(defaultrule.BasisUnmapped),
				"β": availableNote(map[string]any{"A": int64(-5), "B": int64(3)}, -2, 0, "80", "0", 0, 999_999),
			},
		},
		{
			name: "capped",
			b: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("*", "α")),
				Settings: pctMax(10000, 99_999), Items: items(tracked(stock("A", 1_000_000, "B", 1_000_000))),
			},
			notes: map[string]map[string]any{
				"α": availableNote(map[string]any{"A": int64(1_000_000), "B": int64(1_000_000)}, 2_000_000, 2_000_000, "100", "2000000", 2_000_000, 99_999),
				"β": basisNote(defaultrule.BasisUnmapped),
			},
		},
		{
			name: "exactly the maximum is not capped",
			b: sdktest.Batch{
				Locations: locs(on("A")), Warehouses: whs(alphaDefault()), Mappings: mappings(to("A", "α")),
				Settings: pctMax(5000, 99_999), Items: items(tracked(stock("A", 199_999))),
			},
			notes: map[string]map[string]any{"α": availableNote(map[string]any{"A": int64(199_999)}, 199_999, 199_999, "50", "99999.5", 99_999, 99_999)},
		},
		{
			name: "untracked",
			b: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "β")),
				Settings: pct(8000), Items: items(untracked(stock("A", 5))),
			},
			notes: map[string]map[string]any{
				"α": basisNote(defaultrule.BasisUnmapped),
				"β": maxNote(defaultrule.BasisUntracked, 999_999),
			},
		},
		{
			name: "untracked and continue selling is untracked",
			b: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "β")),
				Items: items(sdktest.Item{ID: "v", Untracked: true, ContinueSelling: true}),
			},
			notes: map[string]map[string]any{
				"α": basisNote(defaultrule.BasisUnmapped),
				"β": maxNote(defaultrule.BasisUntracked, 999_999),
			},
		},
		{
			name: "continue selling",
			b: sdktest.Batch{
				Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α"), to("B", "β")),
				Settings: pctMax(8000, 99_999), Items: items(continueSelling(nil)),
			},
			notes: map[string]map[string]any{
				"α": maxNote(defaultrule.BasisContinueSelling, 99_999),
				"β": maxNote(defaultrule.BasisContinueSelling, 99_999),
			},
		},
		{
			name: "no active location, inactive warehouse has no note",
			b: sdktest.Batch{
				Locations: locs(on("A"), off("B")), Warehouses: whs(alphaDefault(), whOn("β"), whOff("γ")),
				Mappings: mappings(to("B", "α"), to("A", "γ")),
				Items:    items(untracked(nil)),
			},
			notes: map[string]map[string]any{
				"α": basisNote(defaultrule.BasisNoActiveLocation),
				"β": basisNote(defaultrule.BasisUnmapped),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Explain = true
			res := run(t, tc.b)
			got := map[string]map[string]any{}
			for wh, attrs := range res.Items[0].Notes {
				got[wh] = notes(t, attrs)
			}
			if !reflect.DeepEqual(got, tc.notes) {
				t.Errorf("notes:\n got %v\nwant %v", got, tc.notes)
			}
		})
	}
}

// TestNoExplainNoNotes: without Explain the rule writes no note.
func TestNoExplainNoNotes(t *testing.T) {
	sl, sw := seedShop()
	res := run(t, sdktest.Batch{
		Locations: sl, Warehouses: sw, Mappings: mappings(to("A", "α")),
		Items: items(tracked(stock("A", 1)), untracked(nil)),
	})
	for i, it := range res.Items {
		if len(it.Notes) != 0 {
			t.Errorf("item %d has notes %v", i, it.Notes)
		}
	}
}
