package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The shop of the plugin tests: A feeds alpha and B feeds beta, at 80%.
const (
	chainShop     = `"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}]`
	chainSettings = `"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"beta"}]`
)

// shopItem is an item of the chain shop.
type shopItem struct {
	id              string
	a, b            int64 // available at A and at B
	untracked       bool
	continueSelling bool
	tags            []string
}

func (it shopItem) json() string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%q,"available":{"A":%d,"B":%d}`, it.id, it.a, it.b)
	if it.untracked {
		b.WriteString(`,"tracked":false`)
	}
	if it.continueSelling {
		b.WriteString(`,"continue_selling":true`)
	}
	if len(it.tags) > 0 {
		tags, _ := json.Marshal(it.tags)
		fmt.Fprintf(&b, `,"tags":%s`, tags)
	}
	return b.String() + "}"
}

// unlimited reports whether the default rule gives the item max_quantity.
func (it shopItem) unlimited() bool { return it.untracked || it.continueSelling }

// chainRule is a rule of settings.rules with an oracle of its plugin: what
// the plugin does to one quantity of an item, as its README says.
type chainRule struct {
	plugin, version string
	params          string // JSON
	onError         string
	apply           func(it shopItem, q int64) int64
}

func (r chainRule) json() string {
	s := fmt.Sprintf(`{"plugin":%q,"version":%q`, r.plugin, r.version)
	if r.params != "" {
		s += `,"params":` + r.params
	}
	if r.onError != "" {
		s += fmt.Sprintf(`,"on_error":%q`, r.onError)
	}
	return s + "}"
}

// bufferRule holds back units from tracked items that do not continue
// selling.
func bufferRule(version string, units int64) chainRule {
	return chainRule{plugin: "buffer", version: version, params: fmt.Sprintf(`{"units":%d}`, units),
		apply: func(it shopItem, q int64) int64 {
			if it.unlimited() {
				return q
			}
			return max(0, q-units)
		}}
}

// capRule publishes at most m.
func capRule(m int64) chainRule {
	return chainRule{plugin: "cap", version: "1.0.0", params: fmt.Sprintf(`{"max":%d}`, m),
		apply: func(_ shopItem, q int64) int64 { return min(q, m) }}
}

// thresholdRule publishes 0 below m, for tracked items that do not continue
// selling.
func thresholdRule(m int64) chainRule {
	return chainRule{plugin: "threshold", version: "1.0.0", params: fmt.Sprintf(`{"min":%d}`, m),
		apply: func(it shopItem, q int64) int64 {
			if it.unlimited() || q >= m {
				return q
			}
			return 0
		}}
}

// packsizeRule rounds down to a multiple of size.
func packsizeRule(size int64) chainRule {
	return chainRule{plugin: "packsize", version: "1.0.0", params: fmt.Sprintf(`{"size":%d}`, size),
		apply: func(_ shopItem, q int64) int64 { return q - q%size }}
}

// tagsRule publishes 0 for an item with an exclude tag, else at most the
// smallest cap of its cap tags; tags compare trimmed and without case.
func tagsRule(exclude []string, caps map[string]int64) chainRule {
	p, _ := json.Marshal(map[string]any{"exclude": exclude, "caps": caps})
	has := func(it shopItem, tag string) bool {
		return slices.ContainsFunc(it.tags, func(t string) bool { return strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(tag)) })
	}
	return chainRule{plugin: "tags", version: "1.0.0", params: string(p),
		apply: func(it shopItem, q int64) int64 {
			limit := int64(-1)
			for tag, c := range caps {
				if has(it, tag) && (limit < 0 || c < limit) {
					limit = c
				}
			}
			if slices.ContainsFunc(exclude, func(tag string) bool { return has(it, tag) }) {
				limit = 0
			}
			if limit < 0 {
				return q
			}
			return min(q, limit)
		}}
}

// chainBody is a compute request of the chain shop with rules and items.
func chainBody(rules []chainRule, items []shopItem) string {
	rs := make([]string, len(rules))
	for i, r := range rules {
		rs[i] = r.json()
	}
	is := make([]string, len(items))
	for i, it := range items {
		is[i] = it.json()
	}
	return body(`"settings":{`+chainSettings+`,"rules":[`+strings.Join(rs, ",")+`]}`, chainShop, `"items":[`+strings.Join(is, ",")+`]`)
}

// chainWant is what the oracle says each item gets.
func chainWant(rules []chainRule, items []shopItem) []orderedQuantities {
	out := make([]orderedQuantities, len(items))
	for i, it := range items {
		alpha, beta := defaultQuantity(it, it.a), defaultQuantity(it, it.b)
		for _, r := range rules {
			alpha, beta = r.apply(it, alpha), r.apply(it, beta)
		}
		out[i] = orderedQuantities{{"alpha", alpha}, {"beta", beta}}
	}
	return out
}

// defaultQuantity is the default rule's quantity at 80% for a warehouse
// one active location with stock feeds.
func defaultQuantity(it shopItem, stock int64) int64 {
	if it.unlimited() {
		return 999_999
	}
	return min(max(0, stock)*80/100, 999_999)
}

// checkChain checks that resp has, for each item, the quantities want
// and no error.
func checkChain(resp computeResponse, items []shopItem, want []orderedQuantities) error {
	if len(resp.Items) != len(items) {
		return fmt.Errorf("%d items, want %d", len(resp.Items), len(items))
	}
	for i, it := range resp.Items {
		if it.ID != items[i].id || it.Error != nil || !slices.Equal(it.Quantities, want[i]) {
			return fmt.Errorf("item %d: %s %v error %+v, want %s %v", i, it.ID, it.Quantities, it.Error, items[i].id, want[i])
		}
	}
	if len(resp.Warnings) != 0 {
		return fmt.Errorf("warnings %+v, want none", resp.Warnings)
	}
	return nil
}
