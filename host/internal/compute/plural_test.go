package compute

import (
	"context"
	"strings"
	"testing"
)

// TestWarningsCountItems: a warning counts its items in words that agree
// with the count: "1 item", "2 items".
func TestWarningsCountItems(t *testing.T) {
	svc := chainService(t, 0, 4096)
	for _, tt := range []struct {
		tags map[int][]string
		want string
	}{
		{map[int][]string{2: {"fail"}}, "failed for 1 item, each keeping"},
		{map[int][]string{1: {"fail"}, 3: {"fail"}}, "failed for 2 items, each keeping"},
		{map[int][]string{2: {"negative"}}, "for 1 item; they were clamped"},
	} {
		resp, err := svc.Compute(context.Background(), chaosRequest(5, tt.tags, OnErrorSkip), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var messages []string
		for _, w := range resp.Warnings {
			messages = append(messages, w.Message)
		}
		if !strings.Contains(strings.Join(messages, "\n"), tt.want) {
			t.Errorf("warnings for items %v = %q, want one saying %q", tt.tags, messages, tt.want)
		}
	}
}
