package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

type holdParams struct {
	Units int64 `json:"units"`
}

func (p holdParams) Validate() error {
	if p.Units < 0 {
		return errors.New("units must be at least 0")
	}
	return nil
}

func TestWithParams(t *testing.T) {
	rule := sdk.WithParams(holdParams{Units: 1}, func(b *sdk.Batch, p holdParams) error {
		for _, it := range b.Items() {
			it.SetQuantity(0, max(0, it.Quantity(0)-p.Units))
		}
		return nil
	})
	batch := func(params string, items int) sdktest.Batch {
		b := sdktest.Batch{
			Warehouses: []sdktest.Warehouse{{ID: "w", Active: true, Default: true}},
			Params:     params,
		}
		for range items {
			b.Items = append(b.Items, sdktest.Item{ID: "v", Quantities: map[string]int64{"w": 10}})
		}
		return b
	}
	tests := []struct {
		params  string
		want    int64
		wantErr string
	}{
		{params: "", want: 9},
		{params: `{"units": 4}`, want: 6},
		{params: `{"units": 40}`, want: 0},
		{params: `{"unit": 4}`, wantErr: `params: json: unknown field "unit"`},
		{params: `{"units": -1}`, wantErr: "params: units must be at least 0"},
		{params: `{"units": "4"}`, wantErr: "params: json: cannot unmarshal string"},
		{params: `{"units": 4} {}`, wantErr: "params: unexpected data after the JSON value"},
		{params: `{"units": 4}]`, wantErr: "params: "},
		{params: `{"units": 4}}`, wantErr: "params: "},
	}
	for _, tt := range tests {
		res, err := sdktest.Run(rule, batch(tt.params, 1))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("params %s: err = %v, want %q", tt.params, err, tt.wantErr)
			}
			// The check the host runs before a chain: no items, same verdict.
			if _, err := sdktest.Run(rule, batch(tt.params, 0)); err == nil {
				t.Errorf("params %s on an empty batch: accepted", tt.params)
			}
			continue
		}
		if err != nil {
			t.Fatalf("params %s: %v", tt.params, err)
		}
		if got := res.Items[0].Quantities["w"]; got != tt.want {
			t.Errorf("params %s: quantity %d, want %d", tt.params, got, tt.want)
		}
	}
}

// Params must not leak from one batch into the next through the defaults'
// maps and slices.
func TestWithParamsDefaultsStayPut(t *testing.T) {
	type params struct {
		Overrides map[string]int64 `json:"overrides"`
		Tags      []string         `json:"tags"`
	}
	var seen []params
	rule := sdk.WithParams(params{Overrides: map[string]int64{}, Tags: []string{"a", "b"}}, func(b *sdk.Batch, p params) error {
		seen = append(seen, p)
		return nil
	})
	for _, ps := range []string{`{"overrides": {"x": 1}, "tags": ["z"]}`, `{}`} {
		if _, err := sdktest.Run(rule, sdktest.Batch{Params: ps}); err != nil {
			t.Fatal(err)
		}
	}
	if got := seen[1]; len(got.Overrides) != 0 || len(got.Tags) != 2 || got.Tags[0] != "a" {
		t.Errorf("params {} after others decoded to %+v, want the defaults", got)
	}
}
