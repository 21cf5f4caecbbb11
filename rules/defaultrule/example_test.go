package defaultrule_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// The product page's first example: Track quantity is enabled, the
// quantity adjustment is 80%, and 985 are available, so 788 (985 × 80%)
// are synced. sdktest runs the rule on the batch the way the host does;
// Explain asks the rule to say how it got there.
func Example() {
	res, err := sdktest.Run(defaultrule.Rule, sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "α", Active: true, Default: true}},
		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "α"}},
		// Percentage is in basis points: 8000 is 80%.
		Settings: sdk.Settings{Percentage: 8000, MaxQuantity: 999_999},
		Items:    []sdktest.Item{{ID: "v-1", Available: map[string]int64{"A": 985}}},
		Explain:  true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("α:", res.Items[0].Quantities["α"])
	fmt.Println("why:", format(res.Items[0].Notes["α"]))
	// Output:
	// α: 788
	// why: basis=available available={A=985} sum=985 total=985 percentage=80 exact=788 floor=788 max_quantity=999999 capped=false
}

// The product page's location mapping examples: with A = 100 and B = 200,
// "All active locations → α" syncs 300 to α; at 80% with "A → β", β gets
// 80. A warehouse no mapping feeds gets 0, since TikTok Shop wants every
// warehouse of a SKU listed.
func Example_locationMapping() {
	shop := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}, {ID: "B", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "α", Active: true, Default: true}, {ID: "β", Active: true}},
		Items:      []sdktest.Item{{ID: "v-1", Available: map[string]int64{"A": 100, "B": 200}}},
	}

	all := shop
	all.Mappings = []sdktest.Mapping{{Location: "*", Warehouse: "α"}}
	res, err := sdktest.Run(defaultrule.Rule, all) // zero Settings: 100%, at most 999,999
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("* → α at 100%:", "α =", res.Items[0].Quantities["α"], "β =", res.Items[0].Quantities["β"])

	aToBeta := shop
	aToBeta.Mappings = []sdktest.Mapping{{Location: "A", Warehouse: "β"}}
	aToBeta.Settings = sdk.Settings{Percentage: 8000, MaxQuantity: 999_999}
	res, err = sdktest.Run(defaultrule.Rule, aToBeta)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("A → β at 80%: ", "α =", res.Items[0].Quantities["α"], "β =", res.Items[0].Quantities["β"])
	// Output:
	// * → α at 100%: α = 300 β = 0
	// A → β at 80%:  α = 0 β = 80
}

// format writes note attributes as key=value, groups in braces.
func format(attrs []abi.Attr) string {
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		var v any
		switch a.Kind {
		case abi.KindBool:
			v = a.Bool
		case abi.KindInt64:
			v = a.Int64
		case abi.KindUint64:
			v = a.Uint64
		case abi.KindFloat64:
			v = a.Float64
		case abi.KindString:
			v = a.String
		case abi.KindGroup:
			v = "{" + format(a.Group) + "}"
		}
		parts[i] = fmt.Sprintf("%s=%v", a.Key, v)
	}
	return strings.Join(parts, " ")
}
