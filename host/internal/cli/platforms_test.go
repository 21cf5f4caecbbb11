package cli

import (
	"log/slog"
	"testing"

	"github.com/syncrules/syncrules/host/internal/config"
	"golang.org/x/time/rate"
)

// TestPlatformsTakeTheTikTokRate: [tiktok] rate and burst reach the TikTok
// client's options, which pace every shop's calls; the defaults are the
// client's own.
func TestPlatformsTakeTheTikTokRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		toml      string
		wantRate  rate.Limit
		wantBurst int
	}{
		{"defaults", "", 10, 5},
		{"raised", "[tiktok]\nrate = 60.0\nburst = 12", 60, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("config.toml", tc.toml)
			if err != nil {
				t.Fatal(err)
			}
			got := platformsOf(cfg, slog.New(slog.DiscardHandler)).TikTok
			if got.Rate != tc.wantRate || got.Burst != tc.wantBurst {
				t.Errorf("tiktok.Options rate %v, burst %d; want %v, %d", got.Rate, got.Burst, tc.wantRate, tc.wantBurst)
			}
		})
	}
}
