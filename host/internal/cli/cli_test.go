package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/cli"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

const seedRequest = `{
  "settings": {"percentage": 80, "mappings": [{"location": "A", "warehouse": "beta"}]},
  "locations": [{"id": "A", "active": true}, {"id": "B", "active": true}],
  "warehouses": [{"id": "alpha", "active": true, "default": true}, {"id": "beta", "active": true}],
  "items": [{"id": "v-1", "tracked": true, "available": {"A": 100, "B": 200}}]
}`

// testConfig writes a config that runs the default rule built from source
// and keeps its data in a temporary folder.
func testConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	wasm := filepath.Join(dir, "default.wasm")
	if err := os.WriteFile(wasm, wasmbuild.ForTest(t, "./rules/defaultrule/module"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	// No drain period: the tests that stop a server need not wait for a
	// load balancer (TestServeDrains sets one).
	text := fmt.Sprintf("[server]\ndata_dir = %q\nshutdown_timeout = \"5s\"\ndrain_period = \"0s\"\n[rules]\ndefault_module = %q\n", filepath.Join(dir, "data"), wasm)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"--help", []string{"--help"}, 0, "serve", ""},
		{"help of a command", []string{"help", "compute"}, 0, "-explain", ""},
		{"serve --help", []string{"serve", "--help"}, 0, "-listen", ""},
		{"compute --help", []string{"compute", "--help"}, 0, "-input", ""},
		{"compute -h", []string{"compute", "-h"}, 0, "-config", ""},
		{"version --help", []string{"version", "--help"}, 0, "Usage: syncrules version", ""},
		{"version", []string{"version"}, 0, "syncrules dev (go", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"compute", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"stray argument", []string{"serve", "now"}, 2, "", `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			// An empty expectation means the stream stays empty.
			if tt.wantStdout == "" && r.stdout != "" || !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", r.stdout, tt.wantStdout)
			}
			if tt.wantStderr == "" && r.stderr != "" || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
	// A command without flags lists none.
	if r := run(t, "", "version", "--help"); strings.Contains(r.stdout, "Flags") || strings.HasSuffix(r.stdout, "\n\n") {
		t.Errorf("version --help = %q", r.stdout)
	}
}

func TestCompute(t *testing.T) {
	cfg := testConfig(t)
	inputFile := filepath.Join(t.TempDir(), "request.json")
	if err := os.WriteFile(inputFile, []byte(seedRequest), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = `{"items":[{"id":"v-1","quantities":{"alpha":0,"beta":80}}],"warnings":[]}` + "\n"
	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"from stdin", seedRequest, []string{"compute", "--config", cfg}},
		{"from a file", "", []string{"compute", "--config", cfg, "--input", inputFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, tt.args...)
			if r.code != 0 || r.stdout != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and %q", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	t.Run("explain", func(t *testing.T) {
		r := run(t, seedRequest, "compute", "--config", cfg, "--explain")
		if r.code != 0 || !strings.Contains(r.stdout, `"exact":"80","floor":80`) {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

func TestComputeRefusesBadInput(t *testing.T) {
	cfg := testConfig(t)
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantStatus int
		wantField  string
	}{
		{"malformed", `{"items": [`, nil, 400, ""},
		{"invalid percentage", `{"settings":{"percentage":100.5},"warehouses":[{"id":"w","default":true}],"items":[]}`, nil, 422, "/settings/percentage"},
		{"unknown location", `{"warehouses":[{"id":"w","default":true}],"items":[{"id":"a","available":{"X":1}}]}`, nil, 422, "/items/0/available/X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, append([]string{"compute", "--config", cfg}, tt.args...)...)
			if r.code != 1 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q; want exit 1 and nothing on stdout", r.code, r.stdout)
			}
			var p struct {
				Status int `json:"status"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			if err := json.Unmarshal([]byte(r.stderr), &p); err != nil {
				t.Fatalf("stderr is not a problem document: %q", r.stderr)
			}
			if p.Status != tt.wantStatus || (tt.wantField != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.wantField)) {
				t.Errorf("problem = %+v, want status %d at %q", p, tt.wantStatus, tt.wantField)
			}
		})
	}
	t.Run("missing input file", func(t *testing.T) {
		r := run(t, "", "compute", "--config", cfg, "--input", filepath.Join(t.TempDir(), "none.json"))
		if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("named config file missing", func(t *testing.T) {
		r := run(t, seedRequest, "compute", "--config", filepath.Join(t.TempDir(), "none.toml"))
		if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestComputeWithoutBuiltInRule(t *testing.T) {
	// A plain go build leaves the default rule out; the error says how to
	// get it.
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[server]\ndata_dir = %q\n", t.TempDir())), 0o644)
	r := run(t, seedRequest, "compute", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "make build") {
		t.Fatalf("exit %d, stderr %q; want a hint to run make build", r.code, r.stderr)
	}
}

// TestServeGracefulShutdown runs the real binary on loopback, uses the API,
// then stops it with a signal while a compute is in flight: the server
// stops listening, answers that compute in full and exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cfg := testConfig(t)
			// One run gets its token from the CLI, from the store the
			// server created, the other from the environment.
			token, env := testAdminToken, "SYNCRULES_ADMIN_TOKEN="+testAdminToken
			if sig == syscall.SIGTERM {
				env = ""
			}
			s := startServer(t, bin, cfg, env)
			if sig == syscall.SIGTERM {
				r := run(t, "", "token", "create", "--scope", "admin", "--config", cfg)
				if r.code != 0 {
					t.Fatalf("token create: %d %s", r.code, r.stderr)
				}
				token = strings.TrimSpace(r.stdout)
			}
			addr := s.addr
			if resp, err := http.Post(addr+"/v1/compute", "application/json", strings.NewReader(seedRequest)); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("POST /v1/compute without a token = %d, want 401", resp.StatusCode)
			}
			if resp, err := http.Get(addr + "/readyz"); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /readyz = %d, want 200", resp.StatusCode)
			}

			// A compute whose body the test holds back: the server asks
			// for it (100 Continue) once its handler reads the body, so
			// the request is in flight when the signal comes.
			inflight := startHeldCompute(t, addr, token)
			if !listening(t, addr) {
				t.Fatalf("/proc/net/tcp shows nothing listening on %s before the signal", addr)
			}
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			s.waitLog(t, "shutting down")
			waitNotListening(t, addr) // the server is stopping, not draining
			status, body := inflight.finish(t)
			if status != http.StatusOK || !strings.Contains(body, `"beta":80`) {
				t.Fatalf("the compute in flight at the signal = %d %s; want 200 with beta 80", status, body)
			}

			var rest []string
			timeout := time.After(time.Minute)
		drain:
			for {
				select {
				case line, ok := <-s.logs:
					if !ok {
						break drain
					}
					rest = append(rest, line)
				case <-timeout:
					t.Fatal("the server did not stop within a minute of answering the last request")
				}
			}
			if err := s.cmd.Wait(); err != nil {
				t.Fatalf("exit: %v; logs %q", err, rest)
			}
			if all := strings.Join(rest, "\n"); !strings.Contains(all, "msg=stopped") {
				t.Errorf("logs after the signal = %q, want stopped", all)
			}
		})
	}
}

// heldCompute is a POST /v1/compute of seedRequest whose body is sent only
// when finish is called.
type heldCompute struct {
	body   *io.PipeWriter
	result chan heldResult
}

type heldResult struct {
	status int
	body   string
	err    error
}

// startHeldCompute sends the headers of a compute with Expect:
// 100-continue and returns once the server's handler has asked for the
// body.
func startHeldCompute(t *testing.T, addr, token string) *heldCompute {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	asked := make(chan struct{})
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		if code == http.StatusContinue {
			close(asked)
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, addr+"/v1/compute", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(seedRequest))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	// A transport of its own, that waits for the server to ask.
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
	h := &heldCompute{body: pw, result: make(chan heldResult, 1)}
	go func() {
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err != nil {
			h.result <- heldResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		h.result <- heldResult{resp.StatusCode, string(b), err}
	}()
	select {
	case <-asked:
		return h
	case r := <-h.result:
		t.Fatalf("the compute was answered before its body was sent: %d %s %v", r.status, r.body, r.err)
	case <-time.After(time.Minute):
		t.Fatal("the server did not ask for the compute's body within a minute")
	}
	return nil
}

// finish sends the body and returns the answer.
func (h *heldCompute) finish(t *testing.T) (status int, body string) {
	t.Helper()
	if _, err := io.WriteString(h.body, seedRequest); err != nil {
		t.Fatal(err)
	}
	h.body.Close()
	select {
	case r := <-h.result:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.status, r.body
	case <-time.After(time.Minute):
		t.Fatal("no answer within a minute of sending the body")
	}
	return 0, ""
}

// waitNotListening returns once nothing listens on addr's port any more.
func waitNotListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for listening(t, addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still listens a minute after the signal", addr)
		}
		runtime.Gosched()
	}
}

// listening reports whether a socket listens on addr's port, read from
// /proc/net/tcp so that the check opens no connection the server would
// have to wait for.
func listening(t *testing.T, addr string) bool {
	t.Helper()
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	// "sl local_address rem_address st ...": the local address as hex
	// IP:port, state 0A for LISTEN.
	local := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] == "0A" {
			return true
		}
	}
	return false
}
