package cli_test

import (
	"strings"
	"testing"
)

// TestStoreErrorsSayStoreOnce: an error of the store reaches the terminal
// with its "store:" prefix once, not wrapped again by the command.
func TestStoreErrorsSayStoreOnce(t *testing.T) {
	cfg := testConfig(t)
	for _, tt := range []struct {
		name string
		dsn  string
		args []string
	}{
		{"serve", "mysql://root@db/x", []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}},
		{"token list", "sqlite:", []string{"token", "list", "--config", cfg}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SYNCRULES_DB", tt.dsn)
			r := run(t, "", tt.args...)
			if r.code == 0 || strings.Count(r.stderr, "store:") != 1 {
				t.Errorf("%v with SYNCRULES_DB=%s: exit %d, stderr %q; want one store: error", tt.args, tt.dsn, r.code, r.stderr)
			}
		})
	}
}
