package cli_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/wasmbuild"
)

var examplePlugins = []string{"buffer", "threshold", "cap", "packsize", "tags"}

// idleTreeLimit is the bound on the memory of the whole process
// tree, idle with the five example plugins installed.
const idleTreeLimit = 150 << 20

// TestFootprintAndCrash runs the real binary: idle with the five example
// plugins it holds at most idleTreeLimit of memory across its process
// tree; 42 uploaded versions after a restart cost no process; an upload cut
// by kill -9 leaves nothing half-written in the data folder.
func TestFootprintAndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	dataDir := filepath.Join(filepath.Dir(cfg), "data")
	var plugins strings.Builder
	for _, name := range examplePlugins {
		path := filepath.Join(filepath.Dir(cfg), name+".wasm")
		if err := os.WriteFile(path, wasmbuild.ForTest(t, "./plugins/"+name), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&plugins, "[[plugins]]\nname = %q\nversion = \"1.0.0\"\npath = %q\n", name, path)
	}
	appendFile(t, cfg, plugins.String())
	buffer := wasmbuild.ForTest(t, "./plugins/buffer")

	s := startServer(t, bin, cfg, "SYNCRULES_ADMIN_TOKEN="+testAdminToken)
	s.waitLog(t, "msg=\"plugins checked\"")
	rss, procs := s.tree(t)
	t.Logf("idle with %d example plugins: %d processes, %.1f MiB RSS", len(examplePlugins), procs, float64(rss)/(1<<20))
	if rss > idleTreeLimit {
		t.Errorf("idle process tree holds %.1f MiB; the bound is %d MiB", float64(rss)/(1<<20), idleTreeLimit>>20)
	}
	// A request loads what it needs, and only that.
	s.compute(t, `[{"plugin":"buffer","version":"1.0.0","params":{"units":3}}]`, `"beta":77`)

	const versions = 42
	for i := range versions {
		s.upload(t, "many", fmt.Sprintf("1.%d.0", i), buffer, http.StatusCreated)
	}
	before := dataFiles(t, dataDir)

	// Cut an upload in the middle of its body, then right after it.
	for _, cut := range []int{len(buffer) / 2, len(buffer)} {
		s.uploadAndKill(t, "crash", fmt.Sprintf("1.0.%d", cut), buffer, cut)
		s = startServer(t, bin, cfg, "SYNCRULES_ADMIN_TOKEN="+testAdminToken)
		s.waitLog(t, "msg=\"plugins checked\"")
		version := fmt.Sprintf("1.0.%d", cut)
		switch code := s.status(t, "/v1/plugins/crash/versions/"+version); code {
		case http.StatusNotFound:
		case http.StatusOK:
			if cut < len(buffer) {
				t.Errorf("an upload cut after %d of %d bytes was stored", cut, len(buffer))
			}
			// Stored whole: it must run.
			s.compute(t, `[{"plugin":"crash","version":"`+version+`","params":{"units":3}}]`, `"beta":77`)
		default:
			t.Errorf("GET the version cut after %d bytes = %d", cut, code)
		}
		if extra := newFiles(before, dataFiles(t, dataDir)); len(extra) > 0 {
			t.Errorf("after kill -9 during an upload, the data folder gained %v", extra)
		}
	}
	rss, procs = s.tree(t)
	t.Logf("restarted with %d stored versions: %d processes, %.1f MiB RSS", versions+1, procs, float64(rss)/(1<<20))
	if procs > 1 {
		t.Errorf("idle after a restart with %d stored versions: %d processes; want the server alone", versions, procs)
	}
	s.stop(t)
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildBinary builds the server once for the package's tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := wasmbuild.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "syncrules-cli-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "syncrules")
		build := exec.Command("go", "build", "-o", builtBin, "./host")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

const testAdminToken = "env-admin-token-0123456789abcdefghijklmnopqrstuvwxyz"

// server is the binary running serve.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs chan string
}

// startServer starts serve with cfg and env added to the environment, and
// returns once it is ready. The test must read s.logs or leave it be: a
// few thousand lines are buffered.
func startServer(t *testing.T, bin, cfg string, env ...string) *server {
	t.Helper()
	return startServerArgs(t, bin, []string{"--config", cfg}, env...)
}

// startServerArgs starts "bin serve args… --listen 127.0.0.1:0".
func startServerArgs(t *testing.T, bin string, args []string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string{"serve"}, args...), "--listen", "127.0.0.1:0")...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &server{cmd: cmd, logs: make(chan string, 10000)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logs <- sc.Text()
		}
		close(s.logs)
	}()
	line := s.waitLog(t, "msg=listening")
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	s.addr = m[1]
	s.waitLog(t, "msg=ready")
	return s
}

// waitLog returns the first log line containing want.
func (s *server) waitLog(t *testing.T, want string) string {
	t.Helper()
	var seen []string
	// Generous: start-up compiles the plugins, slow on a busy machine.
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case line, ok := <-s.logs:
			if !ok {
				t.Fatalf("the server exited before logging %q:\n%s", want, strings.Join(seen, "\n"))
			}
			if strings.Contains(line, want) {
				return line
			}
			seen = append(seen, line)
		case <-timeout:
			t.Fatalf("no %q logged within 5 minutes:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

func (s *server) do(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (s *server) status(t *testing.T, path string) int {
	resp, _ := s.do(t, http.MethodGet, path, "", nil)
	return resp.StatusCode
}

func (s *server) upload(t *testing.T, name, version string, wasm []byte, want int) {
	t.Helper()
	resp, body := s.do(t, http.MethodPut, "/v1/plugins/"+name+"/versions/"+version, "application/wasm", bytes.NewReader(wasm))
	if resp.StatusCode != want {
		t.Fatalf("upload %s %s = %d %s", name, version, resp.StatusCode, body)
	}
}

// compute runs the seed request through rules and checks the answer.
func (s *server) compute(t *testing.T, rules, want string) {
	t.Helper()
	req := strings.Replace(seedRequest, `"settings": {`, `"settings": {"rules": `+rules+`, `, 1)
	resp, body := s.do(t, http.MethodPost, "/v1/compute", "application/json", strings.NewReader(req))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("compute with %s = %d %s; want %s", rules, resp.StatusCode, body, want)
	}
}

// uploadAndKill sends the first n bytes of an upload and kills the server
// with SIGKILL once they are sent (or, for the whole body, at once).
func (s *server) uploadAndKill(t *testing.T, name, version string, wasm []byte, n int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, s.addr+"/v1/plugins/"+name+"/versions/"+version, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(wasm))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/wasm")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write(wasm[:n]); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
}

// tree returns the resident memory of the server and its descendants,
// and how many processes that is.
func (s *server) tree(t *testing.T) (rss int64, procs int) {
	t.Helper()
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces.
		rest := string(b[bytes.LastIndexByte(b, ')')+2:])
		fields := strings.Fields(rest)
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
	}
	queue := []int{s.cmd.Process.Pid}
	for len(queue) > 0 {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			rss += kb << 10
			procs++
		}
	}
	return rss, procs
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	for range s.logs {
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("serve exited with %v", err)
	}
}

// dataFiles lists the data folder, without the compilation cache (a cache,
// safe to delete) and SQLite's own journal files.
func dataFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() && rel == "cache" {
			return filepath.SkipDir
		}
		if !d.IsDir() && !strings.HasSuffix(rel, "-wal") && !strings.HasSuffix(rel, "-shm") {
			files[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func newFiles(before, after map[string]bool) []string {
	var out []string
	for f := range after {
		if !before[f] {
			out = append(out, f)
		}
	}
	return out
}
