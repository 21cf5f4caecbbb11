package compute

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
)

// nativeRule runs the default rule natively through the SDK's Runner, the
// code the wasm module runs, so compute's own logic is tested without the
// engine. The engine's agreement with it is tested in package engine.
type nativeRule struct {
	mu     sync.Mutex
	runner *sdk.Runner
}

func newNativeRule() *nativeRule { return &nativeRule{runner: sdk.NewRunner(defaultrule.Rule)} }

func (n *nativeRule) Call(_ context.Context, input []byte, read func([]byte) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return read(n.runner.Run(input))
}

// fixedOutput is a rule whose output is whatever the test says.
type fixedOutput func(input []byte) []byte

func (f fixedOutput) Call(_ context.Context, input []byte, read func([]byte) error) error {
	return read(f(input))
}

func newService(t testing.TB, rule Runner) *Service {
	t.Helper()
	s, err := NewService(rule, Limits{}, 999_999)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decode(t testing.TB, body string) *Request {
	t.Helper()
	req, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatalf("DecodeRequest(%s) = %v", body, err)
	}
	return req
}

func TestNumberInt(t *testing.T) {
	tests := []struct {
		lit    string
		want   int64
		wantOK bool
	}{
		{"100", 100, true},
		{"-7", -7, true},
		{"1e2", 100, true},
		{"100.0", 100, true},
		{"-0", 0, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"1.5", 0, false},
		{"1e400", 0, false},
		{"1e-2", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			got, ok := NumberOf(tt.lit).Int()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Int() = %d, %t; want %d, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPercentageBasisPoints(t *testing.T) {
	tests := []struct {
		lit     string
		want    uint32
		wantErr string
	}{
		{"80", 8000, ""},
		{"33.33", 3333, ""},
		{"0.01", 1, ""},
		{"100.00", 10000, ""},
		{"1e2", 10000, ""},
		{"5e-1", 50, ""},
		{"0", 0, ""},
		{"33.333", 0, "at most two decimals"},
		{"100.01", 0, "between 0 and 100"},
		{"-0.01", 0, "between 0 and 100"},
		{"1e3", 0, "between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			got, msg := percentageBasisPoints(NumberOf(tt.lit))
			if tt.wantErr != "" {
				if !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("message %q, want it to contain %q", msg, tt.wantErr)
				}
				return
			}
			if msg != "" || got != tt.want {
				t.Errorf("= %d, %q; want %d", got, msg, tt.want)
			}
		})
	}
}

func TestFieldPointersAreEscaped(t *testing.T) {
	s := newService(t, newNativeRule())
	req := decode(t, `{"warehouses":[{"id":"w","default":true}],"items":[{"id":"v","available":{"a/b~c":1}}]}`)
	_, err := s.Compute(context.Background(), req, Options{})
	var in *InputError
	if !errors.As(err, &in) || in.Kind != Invalid {
		t.Fatalf("Compute() = %v, want an Invalid InputError", err)
	}
	if got, want := in.Errors[0].Field, "/items/0/available/a~1b~0c"; got != want {
		t.Errorf("field = %q, want %q (RFC 6901 escaping)", got, want)
	}
}

// TestRuleOutputIsChecked feeds compute outputs that break the contract:
// each must become a RuleError, never a response.
func TestRuleOutputIsChecked(t *testing.T) {
	body := `{"settings":{"max_quantity":100},"locations":[{"id":"A"}],
		"warehouses":[{"id":"alpha","default":true},{"id":"off","active":false}],
		"items":[{"id":"v-1","available":{"A":5}},{"id":"v-2"}]}`
	build := func(items, whs int, set func(q []int32), fail string) fixedOutput {
		return func([]byte) []byte {
			var b abi.OutputBuilder
			b.Reset(items, whs, make([]int32, items*whs))
			set(b.Quantities())
			if fail != "" {
				return clone(b.Fail(fail))
			}
			return clone(b.Bytes())
		}
	}
	tests := []struct {
		name    string
		rule    fixedOutput
		wantErr string
	}{
		{"garbage", func([]byte) []byte { return []byte("nonsense") }, "shorter than the 64-byte header"},
		{"wrong item count", build(1, 2, func([]int32) {}, ""), "the input had 2 x 2"},
		{"negative quantity", build(2, 2, func(q []int32) { q[0] = -1 }, ""), "quantity -1 in warehouse \"alpha\", outside [0, 100]"},
		{"over max_quantity", build(2, 2, func(q []int32) { q[2] = 101 }, ""), "quantity 101 in warehouse \"alpha\", outside [0, 100]"},
		{"stock in an inactive warehouse", build(2, 2, func(q []int32) { q[1] = 3 }, ""), "quantity 3 in inactive warehouse \"off\""},
		{"rule failed", build(2, 2, func([]int32) {}, "params: bad"), "params: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t, tt.rule)
			resp, err := s.Compute(context.Background(), decode(t, body), Options{})
			var re *RuleError
			if !errors.As(err, &re) || re.Rule != DefaultRuleName {
				t.Fatalf("Compute() = %v, %v; want a RuleError of the default rule", resp, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func TestDefaultMappingWarningPointsAtMappings(t *testing.T) {
	s := newService(t, newNativeRule())
	req := decode(t, `{"locations":[{"id":"A","active":false}],"warehouses":[{"id":"w","default":true}],"items":[{"id":"a","available":{"A":5}}]}`)
	resp, err := s.Compute(context.Background(), req, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Warning{Code: "no_active_location", Field: "/settings/mappings", Message: `no location is active: nothing is published to "w"`}
	if len(resp.Warnings) != 1 || resp.Warnings[0] != want {
		t.Fatalf("warnings = %+v, want [%+v]", resp.Warnings, want)
	}
	if q, _ := resp.Items[0].Quantities.Get("w"); q != 0 {
		t.Errorf("w = %d, want 0: the only location is inactive", q)
	}
}

func TestItemErrorsOmitQuantities(t *testing.T) {
	rule := fixedOutput(func([]byte) []byte {
		var b abi.OutputBuilder
		b.Reset(2, 1, []int32{7, 9})
		b.FailItem(1, "no stock data")
		return clone(b.Bytes())
	})
	s := newService(t, rule)
	resp, err := s.Compute(context.Background(), decode(t, `{"warehouses":[{"id":"w","default":true}],"items":[{"id":"a"},{"id":"b"}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := resp.Items[0].Quantities.Get("w"); q != 7 || resp.Items[0].Error != nil {
		t.Errorf("item 0 = %+v, want quantity 7 and no error", resp.Items[0])
	}
	if !resp.Items[1].Quantities.IsZero() || resp.Items[1].Error == nil || resp.Items[1].Error.Detail != "no stock data" {
		t.Errorf("item 1 = %+v, want no quantities and the rule's error", resp.Items[1])
	}
}

func TestExplainNotesMerge(t *testing.T) {
	rule := fixedOutput(func([]byte) []byte {
		var b abi.OutputBuilder
		b.Reset(1, 2, []int32{1, 0})
		note := func(w uint32, attrs ...abi.Attr) {
			b.AppendNote(0, w, func(dst []byte) []byte {
				for _, a := range attrs {
					dst = abi.AppendAttr(dst, a)
				}
				return dst
			})
		}
		note(0, abi.Attr{Key: "basis", Kind: abi.KindString, String: "first"})
		note(0, abi.Attr{Key: "basis", Kind: abi.KindString, String: "second"}, abi.Attr{Key: "n", Kind: abi.KindInt64, Int64: 3})
		note(1, abi.Attr{Key: "ignored", Kind: abi.KindBool, Bool: true}) // inactive warehouse
		note(abi.NoWarehouse, abi.Attr{Key: "item", Kind: abi.KindBool, Bool: true})
		return clone(b.Bytes())
	})
	s := newService(t, rule)
	req := decode(t, `{"locations":[{"id":"A"}],"warehouses":[{"id":"w","default":true},{"id":"x","active":false}],"items":[{"id":"a"}]}`)
	resp, err := s.Compute(context.Background(), req, Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteResponse(&out, resp); err != nil {
		t.Fatal(err)
	}
	want := `{"items":[{"id":"a","quantities":{"w":1},"trace":[{"stage":"default","quantities":{"w":1},"warehouses":{"w":{"basis":"second","n":3}},"item":{"item":true}}]}],"warnings":[]}`
	if out.String() != want {
		t.Errorf("response\n got %s\nwant %s", out.String(), want)
	}
}

// FuzzDecodeRequest feeds arbitrary bodies through decoding, validation and
// the native default rule. Whatever the body, the result is a response that
// keeps the rule's promises or an error the caller can fix: never a panic,
// never a failure of the rule.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"settings":{"percentage":80,"mappings":[{"location":"*","warehouse":"alpha"}],"max_quantity":999999},"locations":[{"id":"A","active":true},{"id":"B","active":true}],"warehouses":[{"id":"alpha","active":true,"default":true},{"id":"beta","active":true}],"items":[{"id":"v-1","tracked":true,"continue_selling":false,"available":{"A":100,"B":200}}]}`,
		`{"settings":{"percentage":33.33,"mappings":[{"location":"A","warehouse":"beta"},{"location":"B","warehouse":"alpha"}]},"locations":[{"id":"A"},{"id":"B","active":false}],"warehouses":[{"id":"alpha","default":true},{"id":"beta","active":false}],"items":[{"id":"x","available":{"A":-5,"B":null}},{"id":"y","tracked":false,"tags":["t"]}]}`,
		`{"items":[]}`,
		`{"warehouses":[{"id":"w","default":true}],"items":[{"id":"a","available":{"A":1e2}}]}`,
		`{"settings":{"max_quantity":1},"locations":[{"id":"A"}],"warehouses":[{"id":"w","default":true}],"items":[{"id":"a","available":{"A":2147483647}}]}`,
		`{"items":[{"id":"a"},{"id":"a"}]}`,
		`[]`, `{`, `{"items":{}}`, `{"settings":{"percentage":"80"}}`,
	} {
		f.Add([]byte(seed))
	}
	s := newService(f, newNativeRule())
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) || in.Kind != Malformed || len(in.Errors) == 0 {
				t.Fatalf("DecodeRequest() error = %v, want a Malformed InputError", err)
			}
			return
		}
		resp, err := s.Compute(context.Background(), req, Options{Explain: len(body)%2 == 0})
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) || in.Kind == Malformed || len(in.Errors) == 0 {
				t.Fatalf("Compute() error = %v, want an Invalid or TooLarge InputError", err)
			}
			return
		}
		checkInvariants(t, req, resp)
	})
}

// checkInvariants checks what every response promises: items in request
// order, every active warehouse and no inactive one, quantities within
// [0, max_quantity].
func checkInvariants(t *testing.T, req *Request, resp *Response) {
	t.Helper()
	maxQ := int64(999_999)
	if req.Settings != nil && !req.Settings.MaxQuantity.IsZero() {
		maxQ, _ = req.Settings.MaxQuantity.Int()
	}
	var active []string
	for _, w := range req.Warehouses {
		if w.Active.Or(true) {
			active = append(active, w.ID)
		}
	}
	if len(resp.Items) != len(req.Items) {
		t.Fatalf("%d results for %d items", len(resp.Items), len(req.Items))
	}
	for i, it := range resp.Items {
		if it.ID != req.Items[i].ID {
			t.Fatalf("result %d is for %q, want %q", i, it.ID, req.Items[i].ID)
		}
		var got []string
		for w, q := range it.Quantities.All() {
			got = append(got, w)
			if q < 0 || int64(q) > maxQ {
				t.Fatalf("item %q: %s = %d, outside [0, %d]", it.ID, w, q, maxQ)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(active, "\x00") {
			t.Fatalf("item %q has warehouses %q, want the active ones %q", it.ID, got, active)
		}
	}
}

// TestDecimalAgreesWithBig is a differential test of the exact decimal
// reader against math/big on literals with exponents big.Rat can still
// expand cheaply.
func TestDecimalAgreesWithBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lit := rapid.StringMatching(`-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,8})?([eE][+-]?[0-9]{1,2})?`).Draw(t, "lit")
		r, ok := new(big.Rat).SetString(lit)
		if !ok {
			t.Fatalf("big.Rat refused %q", lit)
		}
		n := NumberOf(lit)

		wantInt, wantIntOK := int64(0), r.IsInt() && r.Num().IsInt64()
		if wantIntOK {
			wantInt = r.Num().Int64()
		}
		if got, ok := n.Int(); ok != wantIntOK || got != wantInt {
			t.Fatalf("Int(%q) = %d, %t; want %d, %t", lit, got, ok, wantInt, wantIntOK)
		}

		bp, msg := percentageBasisPoints(n)
		hundredths := new(big.Rat).Mul(r, big.NewRat(100, 1))
		switch {
		case r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0:
			if !strings.Contains(msg, "between 0 and 100") {
				t.Fatalf("percentage %q: %d, %q; want out of range", lit, bp, msg)
			}
		case !hundredths.IsInt():
			if !strings.Contains(msg, "two decimals") {
				t.Fatalf("percentage %q: %d, %q; want too many decimals", lit, bp, msg)
			}
		default:
			if msg != "" || int64(bp) != hundredths.Num().Int64() {
				t.Fatalf("percentage %q = %d, %q; want %s basis points", lit, bp, msg, hundredths.Num())
			}
		}
	})
}

// TestHugeExponentsAreNotExpanded: a literal such as 1e999999 is judged from
// its digits and exponent, never by building the number (a request of a few
// hundred bytes once cost 60 MB that way).
func TestHugeExponentsAreNotExpanded(t *testing.T) {
	tests := []struct {
		lit     string
		wantInt bool
		wantBP  string // "" when valid
	}{
		{"1e999999", false, "between 0 and 100"},
		{"1e-999999", false, "two decimals"},
		{"0e999999999999", true, ""},
		{"-0.0e-999999", true, ""},
		{"1e99999999999999999999999", false, "between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			n := NumberOf(tt.lit)
			if _, ok := n.Int(); ok != tt.wantInt {
				t.Errorf("Int() ok = %t, want %t", ok, tt.wantInt)
			}
			if _, msg := percentageBasisPoints(n); !strings.Contains(msg, tt.wantBP) || (tt.wantBP == "") != (msg == "") {
				t.Errorf("percentage message %q, want %q", msg, tt.wantBP)
			}
			allocs := testing.AllocsPerRun(10, func() { n.Int(); percentageBasisPoints(n) })
			if allocs > 10 {
				t.Errorf("%.0f allocations per check: the exponent is being expanded", allocs)
			}
		})
	}
}

func TestStockDecoding(t *testing.T) {
	tests := []struct {
		name      string
		available string
		want      Stock
		wantField string // of a Malformed error
	}{
		{"in request order", `{"B":2,"A":-1,"C":null}`, Stock{{"B", NumberOf("2")}, {"A", NumberOf("-1")}, {"C", Number{}}}, ""},
		{"exact literals kept", `{"A":1e2,"B":12345678901234567890}`, Stock{{"A", NumberOf("1e2")}, {"B", NumberOf("12345678901234567890")}}, ""},
		{"null", `null`, nil, ""},
		{"location named twice", `{"A":1,"A":2}`, nil, "/items/0/available/A"},
		{"string value", `{"A":"5"}`, nil, "/items/0/available/A"},
		{"array", `[1]`, nil, "/items/0/available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeRequest([]byte(`{"items":[{"id":"x","available":` + tt.available + `}]}`))
			if tt.wantField != "" {
				var in *InputError
				if !errors.As(err, &in) || in.Kind != Malformed || in.Errors[0].Field != tt.wantField {
					t.Fatalf("DecodeRequest() = %v, want Malformed at %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := req.Items[0].Available
			if len(got) != len(tt.want) {
				t.Fatalf("stock = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Location != tt.want[i].Location || got[i].Quantity.String() != tt.want[i].Quantity.String() || got[i].Quantity.IsZero() != tt.want[i].Quantity.IsZero() {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
