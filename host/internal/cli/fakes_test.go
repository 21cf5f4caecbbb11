package cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/cli"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
)

// signalWriter collects output and closes ready once it holds want.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.ready != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.ready)
		w.ready = nil
	}
	return n, err
}

func (w *signalWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

func TestFakesServeBothPlatformsUntilStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	out := &signalWriter{want: "SYNCRULES_TIKTOK_AUTH_BASE_URL=", ready: ready}
	var errOut bytes.Buffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"fakes", "--shopify-listen", "127.0.0.1:0", "--tiktok-listen", "127.0.0.1:0", "--catalog", "2,2,2", "--seed", "5"},
			strings.NewReader(""), out, &errOut)
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("fakes stopped at once with %d: %s", code, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("fakes printed no addresses in 30 s")
	}
	shopifyURL := regexp.MustCompile(`SYNCRULES_SHOPIFY_BASE_URL=(\S+)`).FindStringSubmatch(out.String())[1]
	req, _ := http.NewRequest(http.MethodPost, shopifyURL+"/admin/api/2026-10/graphql.json", strings.NewReader(`{"query":"{ productVariantsCount { count } }"}`))
	req.Header.Set("X-Shopify-Access-Token", shopifyfake.DefaultAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"count":8`) { // 2 × 2 and the four conflict variants
		t.Errorf("variants count: %s", body)
	}
	for _, want := range []string{"2 products × 2 variants × 2 locations, seed 5: 4 linked SKUs", `"shop_cipher":`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d after the stop, want 0: %s", code, errOut.String())
	}
}

func TestFakesRefuseBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"fakes", "--catalog", "2,2"},
		{"fakes", "--catalog", "2,0,2"},
		{"fakes", "--shopify-listen", "0.0.0.0:0"},
	} {
		r := run(t, "", args...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and nothing on stdout", args, r.code, r.stdout, r.stderr)
		}
	}
}
