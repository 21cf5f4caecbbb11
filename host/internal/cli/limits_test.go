package cli_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/wasmbuild"
)

// TestServeDropsStalledClients runs the real binary with short timeouts
// from its config: clients that stall their headers or their body are
// dropped, with or without a token.
func TestServeDropsStalledClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "syncrules")
	build := exec.Command("go", "build", "-o", bin, "./host")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := testConfig(t)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(text), "[server]\n", "[server]\nread_timeout = \"500ms\"\nwrite_timeout = \"500ms\"\n", 1)
	if err := os.WriteFile(cfg, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	const token = "env-admin-token-0123456789abcdefghijklmnopqrstuvwxyz"
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SYNCRULES_ADMIN_TOKEN="+token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stderr)
	addr := ""
	for lines.Scan() {
		if m := regexp.MustCompile(`msg=listening addr=http://(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatal("the server never logged its address")
	}
	go io.Copy(io.Discard, stderr) // the server must never block on its logs

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
