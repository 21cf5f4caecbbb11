package cli_test

import (
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeDrains: after SIGTERM the server keeps its port open for
// server.drain_period, /healthz and /readyz answering 503 "draining" while
// other requests are still served, so that a load balancer sees it leave;
// then the port closes. The drain ends when the period does, or at a second
// signal.
func TestServeDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	start := func(t *testing.T, period string) *server {
		cfg := testConfig(t)
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(b), `drain_period = "0s"`, `drain_period = "`+period+`"`, 1)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return startServer(t, bin, cfg, "SYNCRULES_ADMIN_TOKEN="+testAdminToken)
	}
	// exited waits for the server to exit cleanly and returns its logs.
	exited := func(t *testing.T, s *server) string {
		t.Helper()
		var logs []string
		timeout := time.After(time.Minute)
		for {
			select {
			case line, ok := <-s.logs:
				if !ok {
					if err := s.cmd.Wait(); err != nil {
						t.Fatalf("exit: %v; logs %q", err, logs)
					}
					return strings.Join(logs, "\n")
				}
				logs = append(logs, line)
			case <-timeout:
				t.Fatalf("the server did not stop within a minute; logs %q", logs)
			}
		}
	}
	portClosed := func(t *testing.T, s *server) {
		t.Helper()
		if c, err := net.Dial("tcp", strings.TrimPrefix(s.addr, "http://")); err == nil {
			c.Close()
			t.Errorf("the port of a stopped server accepts connections")
		}
	}

	t.Run("served while draining", func(t *testing.T) {
		// Long enough never to end by itself: the second signal ends it.
		s := start(t, "10m")
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		s.waitLog(t, "draining")
		for _, tt := range []struct {
			method, path, body string
			status             int
			want               string
		}{
			{http.MethodGet, "/healthz", "", http.StatusServiceUnavailable, `"draining"`},
			{http.MethodGet, "/readyz", "", http.StatusServiceUnavailable, `"draining"`},
			{http.MethodPost, "/v1/compute", seedRequest, http.StatusOK, `"beta":80`},
		} {
			resp, body := s.do(t, tt.method, tt.path, "application/json", strings.NewReader(tt.body))
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%s %s while draining = %d %s; want %d with %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.want)
			}
			// The client must reconnect, through the balancer, elsewhere.
			if !resp.Close {
				t.Errorf("%s %s while draining keeps the connection alive", tt.method, tt.path)
			}
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if logs := exited(t, s); !strings.Contains(logs, "drain cut short") || !strings.Contains(logs, "msg=stopped") {
			t.Errorf("logs after the second signal = %q, want the drain cut short and stopped", logs)
		}
		portClosed(t, s)
	})

	t.Run("period ends", func(t *testing.T) {
		const period = time.Second
		s := start(t, period.String())
		signalled := time.Now()
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		logs := exited(t, s)
		if took := time.Since(signalled); took < period {
			t.Errorf("the server stopped %v after the signal, within its drain period of %v", took, period)
		}
		if d, st := strings.Index(logs, "draining"), strings.Index(logs, "msg=stopped"); d < 0 || st < d {
			t.Errorf("logs after the signal = %q, want draining then stopped", logs)
		}
		portClosed(t, s)
	})
}
