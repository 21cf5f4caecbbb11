package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestComputeWithPlugins(t *testing.T) {
	r := loadRule(t)
	h := newPluginHost(t, pluginHostConfig{})
	installExamples(t, h)
	h.install(t, "buffer", "2.0.0", "buffer")
	s := newServer(t, r, serverConfig{plugins: h})
	// Batches of 64 items or more run in worker processes. Only buffer's
	// do: a worker compiles its module again, which the engine's tests
	// cover for every kind of module.
	workers := newPluginHost(t, pluginHostConfig{workerMinItems: 64})
	workers.install(t, "buffer", "1.0.0", "buffer")
	sw := newServer(t, r, serverConfig{plugins: workers})

	one := []shopItem{{id: "v", a: 985, b: 15}}
	mixed := []shopItem{
		{id: "tracked", a: 985, b: 15},
		{id: "low", a: 5, b: 63},
		{id: "untracked", untracked: true, a: 1},
		{id: "continue-selling", continueSelling: true, b: -3},
		{id: "negative", a: -40, b: 18},
		{id: "excluded", a: 500, b: 500, tags: []string{"summer", " No-TikTok "}},
		{id: "limited", a: 500, b: 3, tags: []string{"LIMITED"}},
		{id: "limited and rare", a: 500, b: 500, tags: []string{"limited", "rare"}, untracked: true},
	}
	var many []shopItem
	for i := range 300 {
		it := shopItem{id: fmt.Sprintf("gid://shopify/ProductVariant/%d", 40000000000000+i), a: int64(i*37%1000 - 50), b: int64(i * 11 % 90)}
		switch i % 10 {
		case 3:
			it.untracked = true
		case 7:
			it.continueSelling = true
		}
		it.tags = [][]string{nil, {"no-tiktok"}, {"limited"}, {"rare", "limited"}, {"summer"}}[i%5]
		many = append(many, it)
	}
	tags := tagsRule([]string{"no-tiktok"}, map[string]int64{"limited": 5, "rare": 2})
	everything := []chainRule{tags, bufferRule("1.0.0", 2), thresholdRule(4), packsizeRule(3), capRule(50)}

	tests := []struct {
		name   string
		server *server
		rules  []chainRule
		items  []shopItem
		want   []orderedQuantities // checked against the oracle, when given
	}{
		{name: "buffer 5: 788 is 783", rules: []chainRule{bufferRule("1.0.0", 5)}, items: one,
			want: []orderedQuantities{{{"alpha", 783}, {"beta", 7}}}},
		{name: "buffer 2 then cap 50 is 50", rules: []chainRule{bufferRule("1.0.0", 2), capRule(50)}, items: one,
			want: []orderedQuantities{{{"alpha", 50}, {"beta", 10}}}},
		{name: "cap 50 then buffer 2 is 48", rules: []chainRule{capRule(50), bufferRule("1.0.0", 2)}, items: one,
			want: []orderedQuantities{{{"alpha", 48}, {"beta", 10}}}},
		{name: "another version of buffer", rules: []chainRule{bufferRule("2.0.0", 5)}, items: one,
			want: []orderedQuantities{{{"alpha", 783}, {"beta", 7}}}},
		{name: "the same plugin twice", rules: []chainRule{bufferRule("1.0.0", 2), bufferRule("2.0.0", 3)}, items: one,
			want: []orderedQuantities{{{"alpha", 783}, {"beta", 7}}}},
		{name: "threshold 5: 4 is 0, 50 stays", rules: []chainRule{thresholdRule(5)}, items: mixed[1:2],
			want: []orderedQuantities{{{"alpha", 0}, {"beta", 50}}}},
		{name: "packsize 6: 14 is 12", rules: []chainRule{packsizeRule(6)}, items: []shopItem{{id: "v", a: 18, b: 15}},
			want: []orderedQuantities{{{"alpha", 12}, {"beta", 12}}}},
		{name: "packsize 6: 999999 is 999996", rules: []chainRule{packsizeRule(6)}, items: mixed[2:3],
			want: []orderedQuantities{{{"alpha", 999_996}, {"beta", 999_996}}}},
		{name: "buffer and threshold leave unlimited items alone", rules: []chainRule{bufferRule("1.0.0", 10), thresholdRule(1_000_000)}, items: mixed[2:4],
			want: []orderedQuantities{{{"alpha", 999_999}, {"beta", 999_999}}, {{"alpha", 999_999}, {"beta", 999_999}}}},
		{name: "tags", rules: []chainRule{tags}, items: mixed[5:],
			want: []orderedQuantities{{{"alpha", 0}, {"beta", 0}}, {{"alpha", 5}, {"beta", 2}}, {{"alpha", 2}, {"beta", 2}}}},
		{name: "every example plugin", rules: everything, items: mixed},
		{name: "every example plugin, the other way round", rules: []chainRule{capRule(50), packsizeRule(3), thresholdRule(4), bufferRule("1.0.0", 2), tags}, items: mixed},
		{name: "every example plugin on 300 items", rules: everything, items: many},
		{name: "300 items in worker processes", server: sw, rules: []chainRule{bufferRule("1.0.0", 2), bufferRule("1.0.0", 7)}, items: many},
		{name: "on_error skip changes nothing when nothing fails", rules: []chainRule{withOnError(bufferRule("1.0.0", 5), "skip")}, items: one,
			want: []orderedQuantities{{{"alpha", 783}, {"beta", 7}}}},
		{name: "on_error fail", rules: []chainRule{withOnError(bufferRule("1.0.0", 5), "fail")}, items: one,
			want: []orderedQuantities{{{"alpha", 783}, {"beta", 7}}}},
		{name: "no rules", items: mixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server
			if srv == nil {
				srv = s
			}
			for _, rule := range tt.rules {
				if !slices.Contains(examplePlugins(), rule.plugin) {
					t.Skipf("-short installs no %s", rule.plugin)
				}
			}
			want := chainWant(tt.rules, tt.items)
			if tt.want != nil && !slices.EqualFunc(want, tt.want, slices.Equal) {
				t.Fatalf("the oracle says %v, the README %v", want, tt.want)
			}
			if err := checkChain(srv.compute(t, "", chainBody(tt.rules, tt.items)), tt.items, want); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("null and empty rules", func(t *testing.T) {
		for _, rules := range []string{`null`, `[]`} {
			resp := s.compute(t, "", body(`"settings":{`+chainSettings+`,"rules":`+rules+`}`, chainShop, `"items":[`+one[0].json()+`]`))
			if err := checkChain(resp, one, chainWant(nil, one)); err != nil {
				t.Errorf("rules %s: %v", rules, err)
			}
		}
	})
	t.Run("null params and on_error", func(t *testing.T) {
		// cap refuses no params; null is no params, and a null on_error is
		// fail.
		p := problemOf(t, s.post(t, "/v1/compute", body(`"settings":{"rules":[{"plugin":"cap","version":"1.0.0","params":null,"on_error":null}]}`, chainShop, `"items":[]`)),
			http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "/settings/rules/0/params" || !strings.Contains(p.Errors[0].Detail, "max is required") {
			t.Errorf("errors %+v, want max is required at /settings/rules/0/params", p.Errors)
		}
	})
}

// withOnError returns r with on_error set.
func withOnError(r chainRule, onError string) chainRule {
	r.onError = onError
	return r
}

func TestComputeRuleErrors(t *testing.T) {
	r := loadRule(t)
	h := newPluginHost(t, pluginHostConfig{})
	installExamples(t, h)
	h.install(t, "buffer", "1.1.0", "buffer")
	s := newServer(t, r, serverConfig{plugins: h})
	noPlugins := newServer(t, r, serverConfig{})
	item := `"items":[` + shopItem{id: "v", a: 10, b: 10}.json() + `]`
	rules := func(rs ...string) string {
		return body(`"settings":{"rules":[`+strings.Join(rs, ",")+`]}`, chainShop, item)
	}
	buffer := func(params string) string { return `{"plugin":"buffer","version":"1.0.0","params":` + params + `}` }
	nine := slices.Repeat([]string{buffer(`{"units":1}`)}, 9)

	type fieldError struct{ field, detail string }
	tests := []struct {
		name   string
		server *server
		body   string
		status int
		want   []fieldError // each error's field and a part of its detail
	}{
		// 422: a rule the server cannot run.
		{name: "an unknown plugin", body: rules(`{"plugin":"stock","version":"1.0.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/plugin", `no plugin named "stock" is installed`}}},
		{name: "an unknown version", body: rules(`{"plugin":"buffer","version":"1.2.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/version", `buffer has no version "1.2.0"; installed versions: 1.0.0, 1.1.0`}}},
		{name: "no plugin", body: rules(`{"version":"1.0.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/plugin", "is required"}}},
		{name: "an empty plugin", body: rules(`{"plugin":"","version":"1.0.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/plugin", "is required"}}},
		{name: "no version", body: rules(`{"plugin":"buffer"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/version", "is required"}}},
		{name: "an unknown on_error", body: rules(`{"plugin":"buffer","version":"1.0.0","params":{"units":1},"on_error":"retry"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/on_error", `must be "fail" or "skip", got "retry"`}}},
		{name: "params refused: missing", body: rules(`{"plugin":"buffer","version":"1.0.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/params", `units is required, for example {"units": 2}`}}},
		{name: "params refused: negative", body: rules(buffer(`{"units":-1}`)), status: 422,
			want: []fieldError{{"/settings/rules/0/params", "units must be at least 0, got -1"}}},
		{name: "params refused: an unknown field", body: rules(buffer(`{"unit":2}`)), status: 422,
			want: []fieldError{{"/settings/rules/0/params", `unknown field "unit"`}}},
		{name: "params refused: a string", body: rules(buffer(`{"units":"2"}`)), status: 422,
			want: []fieldError{{"/settings/rules/0/params", "buffer@1.0.0 refuses its params"}}},
		{name: "params refused: not an object", body: rules(buffer(`[2]`)), status: 422,
			want: []fieldError{{"/settings/rules/0/params", "buffer@1.0.0 refuses its params"}}},
		{name: "params refused by two rules of three", body: rules(buffer(`{"units":-1}`), `{"plugin":"cap","version":"1.0.0","params":{"max":5}}`, `{"plugin":"cap","version":"1.0.0","params":{"max":-5}}`), status: 422,
			want: []fieldError{{"/settings/rules/0/params", "units must be at least 0"}, {"/settings/rules/2/params", "cap@1.0.0 refuses its params: max must be at least 0, got -5"}}},
		{name: "every unknown plugin and version", body: rules(`{"plugin":"stock","version":"1.0.0"}`, buffer(`{"units":1}`), `{"plugin":"cap","version":"9.0.0"}`), status: 422,
			want: []fieldError{{"/settings/rules/0/plugin", "stock"}, {"/settings/rules/2/version", `cap has no version "9.0.0"`}}},
		{name: "nine rules", body: rules(nine...), status: 422,
			want: []fieldError{{"/settings/rules", "has 9 rules, over the limit of 8"}}},
		{name: "a rule on a server without plugins", server: noPlugins, body: rules(buffer(`{"units":1}`)), status: 422,
			want: []fieldError{{"/settings/rules", "this server runs no plugins"}}},

		// 400: not the documented shape.
		{name: "an unknown member in a rule", body: rules(`{"plugin":"buffer","version":"1.0.0","param":{"units":1}}`), status: 400,
			want: []fieldError{{"/settings/rules/0/param", "unknown field"}}},
		{name: "rules an object", body: body(`"settings":{"rules":{"plugin":"buffer"}}`, chainShop, item), status: 400,
			want: []fieldError{{"/settings/rules", "must be an array, got an object"}}},
		{name: "a rule a string", body: rules(`"buffer@1.0.0"`), status: 400,
			want: []fieldError{{"/settings/rules/0", "must be an object, got a string"}}},
		{name: "plugin a number", body: rules(`{"plugin":7,"version":"1.0.0"}`), status: 400,
			want: []fieldError{{"/settings/rules/0/plugin", "must be a string, got a number"}}},
		{name: "on_error a boolean", body: rules(`{"plugin":"buffer","version":"1.0.0","on_error":true}`), status: 400,
			want: []fieldError{{"/settings/rules/0/on_error", "must be a string, got a boolean"}}},
		{name: "params truncated", body: `{"settings":{"rules":[{"plugin":"buffer","version":"1.0.0","params":{"units":`, status: 400,
			want: []fieldError{{"/settings/rules/0/params/units", "malformed JSON"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.name), func(t *testing.T) {
			srv := tt.server
			if srv == nil {
				srv = s
			}
			p := problemOf(t, srv.post(t, "/v1/compute", tt.body), tt.status)
			if len(p.Errors) != len(tt.want) {
				t.Fatalf("errors %+v, want %+v", p.Errors, tt.want)
			}
			for i, e := range p.Errors {
				if e.Field != tt.want[i].field || !hasText(t, e.Detail, tt.want[i].detail) {
					t.Errorf("error %d: %+v, want field %s and a detail with %q", i, e, tt.want[i].field, tt.want[i].detail)
				}
			}
		})
	}
	// Params are asked about only once the rest of the request is valid:
	// the rules are the last thing checked, not a reason to skip others.
	t.Run("params are checked once the rest is valid", func(t *testing.T) {
		req := body(`"settings":{"percentage":101,"rules":[`+buffer(`{"units":-1}`)+`]}`, chainShop, item)
		p := problemOf(t, s.post(t, "/v1/compute", req), http.StatusUnprocessableEntity)
		if got := p.fields(); !slices.Equal(got, []string{"/settings/percentage"}) {
			t.Errorf("fields %q, want /settings/percentage alone", got)
		}
	})
}

func TestComputeExplainWithPlugins(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	installExamples(t, h)
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	items := []shopItem{{id: "v", a: 985, b: 15}, {id: "w", untracked: true}}
	rules := []chainRule{bufferRule("1.0.0", 2), capRule(5000), capRule(5)}
	resp := s.compute(t, "?explain=true", chainBody(rules, items))
	if err := checkChain(computeResponse{Items: resp.Items}, items, chainWant(rules, items)); err != nil {
		t.Fatal(err)
	}

	// Each item has a stage per rule, default first, each with the
	// quantities after it; the plugins' notes are theirs.
	type stage struct {
		name       string
		quantities orderedQuantities
		alpha      string // the notes on alpha, as JSON
		item       string // the notes on the item
	}
	want := [][]stage{
		{
			{"default", orderedQuantities{{"alpha", 788}, {"beta", 12}}, "", ""},
			{"buffer@1.0.0", orderedQuantities{{"alpha", 786}, {"beta", 10}}, `{"after":786,"before":788,"units":2}`, ""},
			{"cap@1.0.0", orderedQuantities{{"alpha", 786}, {"beta", 10}}, `{"after":786,"before":786,"max":5000}`, ""},
			{"cap@1.0.0", orderedQuantities{{"alpha", 5}, {"beta", 5}}, `{"after":5,"before":786,"max":5}`, ""},
		},
		{
			{"default", orderedQuantities{{"alpha", 999_999}, {"beta", 999_999}}, "", ""},
			{"buffer@1.0.0", orderedQuantities{{"alpha", 999_999}, {"beta", 999_999}}, "", `{"unchanged":"untracked"}`},
			{"cap@1.0.0", orderedQuantities{{"alpha", 5000}, {"beta", 5000}}, `{"after":5000,"before":999999,"max":5000}`, ""},
			{"cap@1.0.0", orderedQuantities{{"alpha", 5}, {"beta", 5}}, `{"after":5,"before":5000,"max":5}`, ""},
		},
	}
	for i, it := range resp.Items {
		if len(it.Trace) != len(want[i]) {
			t.Fatalf("item %s: %d stages, want %d", it.ID, len(it.Trace), len(want[i]))
		}
		for k, st := range it.Trace {
			w := want[i][k]
			if st.Stage != w.name || !slices.Equal(st.Quantities, w.quantities) || st.Error != nil || st.Skipped {
				t.Errorf("item %s stage %d: %s %v error %+v skipped %v; want %s %v", it.ID, k, st.Stage, st.Quantities, st.Error, st.Skipped, w.name, w.quantities)
			}
			if k == 0 {
				continue // the default rule's notes are TestComputeExplain's
			}
			if got := canonical(t, st.Warehouses["alpha"]); got != w.alpha {
				t.Errorf("item %s stage %s: alpha notes %s, want %s", it.ID, st.Stage, got, w.alpha)
			}
			if got := canonical(t, st.Item); got != w.item {
				t.Errorf("item %s stage %s: item notes %s, want %s", it.ID, st.Stage, got, w.item)
			}
		}
	}
	wantLogs := []ruleLog{{Rule: "buffer@1.0.0", Calls: 1}, {Rule: "cap@1.0.0", Calls: 1}, {Rule: "cap@1.0.0", Calls: 1}}
	if !slices.Equal(resp.Logs, wantLogs) {
		t.Errorf("logs %+v, want %+v", resp.Logs, wantLogs)
	}

	t.Run("no logs without explain", func(t *testing.T) {
		ex := s.post(t, "/v1/compute", chainBody(rules, items))
		if strings.Contains(string(ex.body), `"logs"`) || strings.Contains(string(ex.body), `"trace"`) {
			t.Errorf("body %s has logs or a trace", ex.body)
		}
	})
}

// canonical returns notes as compact JSON with sorted members, or "" for
// none.
func canonical(t *testing.T, notes map[string]json.RawMessage) string {
	t.Helper()
	if notes == nil {
		return ""
	}
	b, err := json.Marshal(notes)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChainFailures runs a plugin that fails items in every way it can
// through the API: each answer must be what the document says (the checked
// client sees to that), and each failure must stay with its item.
func TestChainFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short compiles no chaos plugin")
	}
	r := loadRule(t)
	// Only the hanging items may time out, however busy the machine.
	h := newPluginHost(t, pluginHostConfig{callTimeout: 200 * time.Millisecond * slowdown})
	h.install(t, "chaos", "1.0.0", "chaos")
	s := newServer(t, r, serverConfig{plugins: h})

	// One location feeds alpha; beta is inactive. Item i has 10+i in A.
	request := func(onError string, tags ...string) string {
		var items []string
		for i, tag := range append([]string{""}, tags...) {
			tagJSON := "[]"
			if tag != "" {
				tagJSON = `["` + tag + `"]`
			}
			items = append(items, fmt.Sprintf(`{"id":"v-%d","available":{"A":%d},"tags":%s}`, i, 10+i, tagJSON))
		}
		return body(`"settings":{"rules":[{"plugin":"chaos","version":"1.0.0","on_error":"`+onError+`"}]}`,
			`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta","active":false}]`,
			`"items":[`+strings.Join(items, ",")+`]`)
	}
	tests := []struct {
		tag      string
		code     string // the item's error code; "" if it does not fail
		quantity int64  // alpha's quantity when it does not fail
		warning  string // a warning the failure adds without skip
	}{
		{tag: "fail", code: "rule_failed"},
		{tag: "panic", code: "rule_failed"},
		{tag: "trap", code: "trap"},
		{tag: "loop", code: "timeout"},
		{tag: "inactive", code: "contract"},
		{tag: "negative", quantity: 0, warning: "quantity_clamped"},
		{tag: "huge", quantity: 999_999, warning: "quantity_clamped"},
		{tag: "print", quantity: 10},
	}
	for _, tt := range tests {
		for _, onError := range []string{"fail", "skip"} {
			t.Run(tt.tag+"/"+onError, func(t *testing.T) {
				resp := s.compute(t, "?explain=true", request(onError, tt.tag))
				if len(resp.Items) != 2 {
					t.Fatalf("%d items, want 2", len(resp.Items))
				}
				// The untagged item loses a unit, whatever the other did.
				if it := resp.Items[0]; it.Error != nil || !slices.Equal(it.Quantities, orderedQuantities{{"alpha", 9}}) {
					t.Errorf("the untagged item: %v, error %+v; want alpha 9", it.Quantities, it.Error)
				}
				it := resp.Items[1]
				last := it.Trace[len(it.Trace)-1]
				var codes []string
				for _, w := range resp.Warnings {
					codes = append(codes, w.Code)
					if w.Field != "/settings/rules/0" || !strings.Contains(w.Message, "chaos@1.0.0") {
						t.Errorf("warning %+v, want one about /settings/rules/0 naming chaos@1.0.0", w)
					}
				}
				var wantCodes []string
				switch {
				case tt.code == "":
					if it.Error != nil || !slices.Equal(it.Quantities, orderedQuantities{{"alpha", tt.quantity}}) {
						t.Errorf("quantities %v, error %+v; want alpha %d", it.Quantities, it.Error, tt.quantity)
					}
					if tt.warning != "" {
						wantCodes = []string{tt.warning}
					}
				case onError == "fail":
					if it.Error == nil || it.Error.Code != tt.code || it.Error.Rule != "chaos@1.0.0" || it.Error.Detail == "" || it.Quantities != nil {
						t.Errorf("quantities %v, error %+v; want none and code %s", it.Quantities, it.Error, tt.code)
					}
					if last.Stage != "chaos@1.0.0" || last.Error == nil || *last.Error != *it.Error || last.Skipped || last.Quantities != nil {
						t.Errorf("last stage %+v, want chaos's with the item's error and no quantities", last)
					}
				default:
					if it.Error != nil || !slices.Equal(it.Quantities, orderedQuantities{{"alpha", 11}}) {
						t.Errorf("quantities %v, error %+v; want the default rule's alpha 11", it.Quantities, it.Error)
					}
					if last.Stage != "chaos@1.0.0" || last.Error == nil || last.Error.Code != tt.code || !last.Skipped || !slices.Equal(last.Quantities, it.Quantities) {
						t.Errorf("last stage %+v, want chaos's, skipped, with code %s and the quantities kept", last, tt.code)
					}
					wantCodes = []string{"rule_skipped"}
				}
				if !slices.Equal(codes, wantCodes) {
					t.Errorf("warnings %+v, want codes %q", resp.Warnings, wantCodes)
				}
				if len(resp.Logs) != 1 || resp.Logs[0].Rule != "chaos@1.0.0" || resp.Logs[0].Calls < 1 || resp.Logs[0].Truncated {
					t.Errorf("logs %+v, want one of chaos@1.0.0", resp.Logs)
				}
				if said := strings.Contains(resp.Logs[0].Output, "chaos says hello from v-1"); said != (tt.tag == "print") {
					t.Errorf("output %q", resp.Logs[0].Output)
				}
			})
		}
	}
	t.Run("a rule after every item failed has no log", func(t *testing.T) {
		req := strings.Replace(request("fail", "fail"), `"on_error":"fail"}`, `"on_error":"fail"},{"plugin":"chaos","version":"1.0.0"}`, 1)
		req = strings.Replace(req, `"tags":[]`, `"tags":["fail"]`, 1)
		resp := s.compute(t, "?explain=true", req)
		for _, it := range resp.Items {
			if it.Error == nil || len(it.Trace) != 2 {
				t.Errorf("item %s: error %+v, %d stages; want an error and 2 stages", it.ID, it.Error, len(it.Trace))
			}
		}
		if len(resp.Logs) != 1 {
			t.Errorf("logs %+v, want the first rule's alone", resp.Logs)
		}
	})
}
