package cli_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestServeDropsStalledClients runs the real binary with short timeouts
// from its config: clients that stall their headers or their body are
// dropped, with or without a token.
func TestServeDropsStalledClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(text), "[server]\n", "[server]\nread_timeout = \"500ms\"\nwrite_timeout = \"500ms\"\n", 1)
	if err := os.WriteFile(cfg, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	const token = testAdminToken
	s := startServer(t, bin, cfg, "SYNCRULES_ADMIN_TOKEN="+token)
	defer s.stop(t)
	addr := strings.TrimPrefix(s.addr, "http://")

	for _, tt := range []struct{ name, sent string }{
		{"headers stalled", "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Ty"},
		{"body stalled, no token", "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{\"items\":["},
		{"body stalled, a token", "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\nAuthorization: Bearer " + token + "\r\n\r\n{\"items\":["},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprint(c, tt.sent)
			// A safety net, many times the configured timeouts.
			const patience = 2 * time.Minute
			c.SetReadDeadline(time.Now().Add(patience))
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the connection open for %s", patience)
			}
		})
	}
}
