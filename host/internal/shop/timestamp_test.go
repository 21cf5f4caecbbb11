package shop_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// TestTimestamp: every time is written in UTC with six fractional digits,
// whatever its zone and however many of its digits are zero, and reads
// back as the same instant.
func TestTimestamp(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 17, 8, 14, 83152000, time.UTC), `"2026-11-27T17:08:14.083152Z"`},
		{time.Date(2026, 11, 27, 17, 8, 14, 0, time.UTC), `"2026-11-27T17:08:14.000000Z"`},
		{time.Date(2026, 11, 27, 17, 8, 14, 120000000, time.UTC), `"2026-11-27T17:08:14.120000Z"`},
		{time.Date(2026, 1, 1, 0, 30, 0, 999999999, paris), `"2025-12-31T23:30:00.999999Z"`},
	} {
		b, err := json.Marshal(shop.Timestamp(tt.in))
		if err != nil || string(b) != tt.want {
			t.Errorf("Timestamp(%v) = %s, %v; want %s", tt.in, b, err, tt.want)
			continue
		}
		var back shop.Timestamp
		if err := json.Unmarshal(b, &back); err != nil || !back.Time().Equal(tt.in.Truncate(time.Microsecond)) {
			t.Errorf("%s reads back as %v, %v; want %v", b, back.Time(), err, tt.in.Truncate(time.Microsecond))
		}
	}
	sh := shop.Shop{ID: "acme", Locations: []shop.Location{}, Warehouses: []shop.Warehouse{},
		Created: time.Date(2026, 3, 2, 9, 14, 3, 0, paris), Updated: time.Date(2026, 3, 2, 9, 14, 3, 5000, time.UTC)}
	b, err := json.Marshal(sh)
	want := `{"id":"acme","name":"","locations":[],"warehouses":[],"connected":false,"created":"2026-03-02T08:14:03.000000Z","updated":"2026-03-02T09:14:03.000005Z"}`
	if err != nil || string(b) != want {
		t.Errorf("shop = %s, %v; want %s", b, err, want)
	}
}
