package cli

import (
	"log/slog"
	"testing"

	"github.com/syncrules/syncrules/host/internal/config"
	"golang.org/x/time/rate"
)

// TestPlatformsTakeTheTikTokRate: [tiktok] rate, max_rate and burst reach the TikTok
// client's options, which pace every shop's calls; the defaults are the
// client's own.
func TestPlatformsTakeTheTikTokRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		toml      string
		wantRate  rate.Limit
		wantMax   rate.Limit
		wantBurst int
	}{
		{"defaults", "", 10, 50, 5},
		{"raised", "[tiktok]\nrate = 60.0\nmax_rate = 100.0\nburst = 12", 60, 100, 12},
		{"fixed", "[tiktok]\nrate = 20.0\nmax_rate = 20.0", 20, 20, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("config.toml", tc.toml)
			if err != nil {
				t.Fatal(err)
			}
			got := platformsOf(cfg, slog.New(slog.DiscardHandler)).TikTok
			if got.Rate != tc.wantRate || got.MaxRate != tc.wantMax || got.Burst != tc.wantBurst {
				t.Errorf("tiktok.Options rate %v, max rate %v, burst %d; want %v, %v, %d", got.Rate, got.MaxRate, got.Burst, tc.wantRate, tc.wantMax, tc.wantBurst)
			}
		})
	}
}
