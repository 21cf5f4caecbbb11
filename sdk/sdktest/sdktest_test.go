package sdktest_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

func shop() sdktest.Batch {
	return sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}, {ID: "B", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Mappings:   []sdktest.Mapping{{Location: "A", Warehouse: "beta"}, {Location: "*", Warehouse: "alpha"}},
		Items: []sdktest.Item{{
			ID:         "v-1",
			Available:  map[string]int64{"A": 100, "B": 200},
			Quantities: map[string]int64{"alpha": 300, "beta": 80},
		}},
	}
}

var nothing = sdk.RuleFunc(func(*sdk.Batch) error { return nil })

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(b *sdktest.Batch)
		wantErr string // a part of the error
	}{
		{name: "mapping from an unknown location", edit: func(b *sdktest.Batch) { b.Mappings[0].Location = "C" }, wantErr: `"C"`},
		{name: "mapping to an unknown warehouse", edit: func(b *sdktest.Batch) { b.Mappings[1].Warehouse = "gamma" }, wantErr: `"gamma"`},
		{name: "stock at an unknown location", edit: func(b *sdktest.Batch) { b.Items[0].Available["C"] = 1 }, wantErr: `"C"`},
		{name: "quantity in an unknown warehouse", edit: func(b *sdktest.Batch) { b.Items[0].Quantities["gamma"] = 1 }, wantErr: `"gamma"`},
		{name: "negative percentage", edit: func(b *sdktest.Batch) { b.Settings = sdk.Settings{Percentage: -1, MaxQuantity: 10} }, wantErr: "percentage"},
		{name: "percentage over 100%", edit: func(b *sdktest.Batch) { b.Settings = sdk.Settings{Percentage: 10001, MaxQuantity: 10} }, wantErr: "percentage"},
		{name: "max quantity zero", edit: func(b *sdktest.Batch) { b.Settings = sdk.Settings{Percentage: 5000} }, wantErr: "max quantity"},
		{name: "max quantity over int32", edit: func(b *sdktest.Batch) { b.Settings = sdk.Settings{Percentage: 5000, MaxQuantity: math.MaxInt32 + 1} }, wantErr: "max quantity"},
		{name: "stock over int32", edit: func(b *sdktest.Batch) { b.Items[0].Available["A"] = math.MaxInt32 + 1 }, wantErr: "int32"},
		{name: "stock under int32", edit: func(b *sdktest.Batch) { b.Items[0].Available["B"] = math.MinInt32 - 1 }, wantErr: "int32"},
		{name: "quantity over int32", edit: func(b *sdktest.Batch) { b.Items[0].Quantities["beta"] = math.MaxInt32 + 1 }, wantErr: "int32"},
		{name: "quantity under int32", edit: func(b *sdktest.Batch) { b.Items[0].Quantities["alpha"] = math.MinInt32 - 1 }, wantErr: "int32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			tt.edit(&b)
			if _, err := b.Encode(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Encode() error = %v, want one mentioning %s", err, tt.wantErr)
			}
			// Run encodes first, so it reports the same error and runs nothing.
			called := false
			if _, err := sdktest.Run(sdk.RuleFunc(func(*sdk.Batch) error { called = true; return nil }), b); err == nil || called {
				t.Errorf("Run() error = %v, rule called %v; want the Encode error", err, called)
			}
		})
	}
}

func TestEncodeAccepts(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(b *sdktest.Batch)
		wantSettings sdk.Settings
	}{
		{name: "zero settings are the defaults", edit: func(*sdktest.Batch) {}, wantSettings: sdktest.DefaultSettings},
		{name: "0% is a setting", edit: func(b *sdktest.Batch) { b.Settings = sdk.Settings{Percentage: 0, MaxQuantity: 5} }, wantSettings: sdk.Settings{Percentage: 0, MaxQuantity: 5}},
		{name: "limits", edit: func(b *sdktest.Batch) {
			b.Settings = sdk.Settings{Percentage: 10000, MaxQuantity: math.MaxInt32}
			b.Items[0].Available["A"] = math.MinInt32
			b.Items[0].Quantities["alpha"] = math.MaxInt32
		}, wantSettings: sdk.Settings{Percentage: 10000, MaxQuantity: math.MaxInt32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			tt.edit(&b)
			var got sdk.Settings
			var stock int64
			res, err := sdktest.Run(sdk.RuleFunc(func(b *sdk.Batch) error {
				got, stock = b.Settings(), b.Item(0).Available(0)
				return nil
			}), b)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if got != tt.wantSettings {
				t.Errorf("the rule saw settings %+v, want %+v", got, tt.wantSettings)
			}
			if stock != b.Items[0].Available["A"] {
				t.Errorf("the rule saw %d at A, want %d", stock, b.Items[0].Available["A"])
			}
			if q := res.Items[0].Quantities["alpha"]; q != b.Items[0].Quantities["alpha"] {
				t.Errorf("alpha = %d, want %d", q, b.Items[0].Quantities["alpha"])
			}
		})
	}
}

// TestDefaultSettings: the defaults are the seed's, 100% and a maximum of
// 999,999.
func TestDefaultSettings(t *testing.T) {
	if want := (sdk.Settings{Percentage: 10000, MaxQuantity: 999_999}); sdktest.DefaultSettings != want {
		t.Errorf("DefaultSettings = %+v, want %+v", sdktest.DefaultSettings, want)
	}
}

// TestEncodeIsWhatRunnerReads: Encode produces what abi.ParseInput reads
// back, item flags included: an Item's zero value is tracked.
func TestEncodeIsWhatRunnerReads(t *testing.T) {
	b := shop()
	b.Items = append(b.Items, sdktest.Item{ID: "v-2", Untracked: true, ContinueSelling: true, Tags: []string{"x"}})
	b.Explain = true
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	in, err := abi.ParseInput(input)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := in.Counts(), (abi.InputCounts{Items: 2, Locations: 2, Warehouses: 2, Mappings: 2, Tags: 1}); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
	if in.Settings().Flags&abi.FlagExplain == 0 {
		t.Errorf("Explain did not set FlagExplain")
	}
	if f := in.ItemFlags(0); f != abi.ItemTracked {
		t.Errorf("item 0 flags = %#x, want tracked only", f)
	}
	if f := in.ItemFlags(1); f != abi.ItemContinueSelling {
		t.Errorf("item 1 flags = %#x, want continue selling only", f)
	}
	if loc, wh := in.Mapping(1); loc != abi.AllLocations || wh != 0 {
		t.Errorf("mapping 1 = %d, %d; want AllLocations, 0", loc, wh)
	}
}

func TestDecode(t *testing.T) {
	b := shop()
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var ob abi.OutputBuilder
	ob.Reset(1, 2, []int32{7, 8})
	ok := append([]byte(nil), ob.Bytes()...)
	// The same item with one warehouse.
	other := shop()
	other.Warehouses, other.Mappings, other.Items[0].Quantities = other.Warehouses[:1], nil, nil
	otherInput, err := other.Encode()
	if err != nil {
		t.Fatal(err)
	}
	fails := func(rule sdk.RuleFunc) []byte { return sdk.NewRunner(rule).Run(input) }
	tests := []struct {
		name    string
		output  []byte
		wantErr error
	}{
		{name: "rule returned an error", output: fails(func(*sdk.Batch) error { return errors.New("no feed") }), wantErr: sdktest.ErrRuleFailed},
		{name: "rule panicked", output: fails(func(*sdk.Batch) error { panic("boom") }), wantErr: sdktest.ErrRuleFailed},
		{name: "not an output", output: input, wantErr: abi.ErrContract},
		{name: "for another batch", output: sdk.NewRunner(nothing).Run(otherInput), wantErr: abi.ErrContract},
		{name: "ok", output: ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sdktest.Decode(b, tt.output)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if q := res.Items[0].Quantities; len(q) != 2 || q["alpha"] != 7 || q["beta"] != 8 {
				t.Errorf("quantities = %v, want alpha 7, beta 8", q)
			}
			if string(res.Output) != string(tt.output) {
				t.Errorf("Output is not the output decoded")
			}
		})
	}
}

// TestResultOwnsOutput: a Result keeps its own copy of the output, so it
// stays valid after the runner that produced it runs again.
func TestResultOwnsOutput(t *testing.T) {
	b := shop()
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rn := sdk.NewRunner(nothing)
	out := rn.Run(input)
	res, err := sdktest.Decode(b, out)
	if err != nil {
		t.Fatal(err)
	}
	before := string(res.Output)
	clear(out)
	if string(res.Output) != before {
		t.Errorf("Result.Output changed with the runner's buffer")
	}
}
