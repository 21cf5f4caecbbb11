package cli_test

import (
	"strings"
	"testing"
)

// Beyond loopback the server listens only behind a TLS-terminating proxy,
// stated in the config.
func TestServeRefusesClearTextBeyondLoopback(t *testing.T) {
	cfg := testConfig(t)
	r := run(t, "", "serve", "--config", cfg, "--listen", "0.0.0.0:0")
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to listen on 0.0.0.0:0") || !strings.Contains(r.stderr, "behind_proxy = true") {
		t.Errorf("serve --listen 0.0.0.0:0 = %d\n%s", r.code, r.stderr)
	}
}
