package shop

import (
	"strings"
	"testing"
	"time"
)

// TestViewRunStale: a running run whose progress stopped moving shows
// interrupted, saying what to do: a connect runs again; a resync's or a
// settings change's items stay pending and its job carries it on once a
// server takes the job back, so it does not say to connect again.
func TestViewRunStale(t *testing.T) {
	now := time.Now()
	tests := []struct {
		kind        string
		updated     time.Time
		state       RunState
		say, notSay string
	}{
		{RunKindConnect, now.Add(-StaleRunAfter - time.Second), RunInterrupted, "connect again", "pending"},
		{RunKindResync, now.Add(-StaleRunAfter - time.Second), RunInterrupted, "stay pending", "connect again"},
		{RunKindSettings, now.Add(-StaleRunAfter - time.Second), RunInterrupted, "stay pending", "connect again"},
		{RunKindResync, now.Add(-time.Second), RunRunning, "", "connect again"},
	}
	for _, tt := range tests {
		v := viewRun(Run{ID: 1, Kind: tt.kind, State: RunRunning, Phase: PhasePublishing, Updated: tt.updated}, now)
		if v.State != tt.state || !strings.Contains(v.Error, tt.say) || strings.Contains(v.Error, tt.notSay) {
			t.Errorf("%s run last updated %v ago: %s %q; want %s, saying %q and not %q",
				tt.kind, now.Sub(tt.updated).Round(time.Second), v.State, v.Error, tt.state, tt.say, tt.notSay)
		}
	}
}
