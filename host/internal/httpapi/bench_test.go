package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/compute"
)

// benchRequest is a typical shop's request of n items: three locations, A
// and B mapped to alpha and C to beta, at 80%.
func benchRequest(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	tags := [][]string{{"summer", "tees"}, {"sale"}, {"new", "hoodies", "winter"}, nil}
	var b strings.Builder
	b.WriteString(`{"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"alpha"},{"location":"C","warehouse":"beta"}]},`)
	b.WriteString(`"locations":[{"id":"A"},{"id":"B"},{"id":"C"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}],"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := 40000000000000 + i
		fmt.Fprintf(&b, `{"id":"gid://shopify/ProductVariant/%d","product_id":"gid://shopify/Product/%d","sku":"TEE-%06d","tags":[`, id, 7000000000000+i/4, i)
		for k, tag := range tags[i%len(tags)] {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q", tag)
		}
		b.WriteString(`]`)
		if r.IntN(20) == 0 {
			b.WriteString(`,"tracked":false`)
		}
		if r.IntN(20) == 0 {
			b.WriteString(`,"continue_selling":true`)
		}
		fmt.Fprintf(&b, `,"available":{"A":%d,"B":%d,"C":%d}}`, r.Int64N(2000)-100, r.Int64N(500), r.Int64N(50))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkCompute measures the whole API over loopback (http) beside the
// JSON decoding and encoding alone (codec), for the same request.
func BenchmarkCompute(b *testing.B) {
	const n = 10_000
	req := benchRequest(n)
	s := newServer(b, loadRule(b), serverConfig{})
	// One checked exchange: the request is valid and its answer documented.
	if ex := s.post(b, "/v1/compute", string(req)); ex.status != http.StatusOK {
		b.Fatalf("status %d: %s", ex.status, ex.body)
	}
	nsPerSKU := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sku")
	}

	b.Run(fmt.Sprintf("http/n=%d", n), func(b *testing.B) {
		client := &http.Client{Transport: s.transport}
		for b.Loop() {
			s.postRaw(b, client, "/v1/compute", s.token, req)
		}
		nsPerSKU(b)
	})

	b.Run(fmt.Sprintf("codec/n=%d", n), func(b *testing.B) {
		decoded, err := compute.DecodeRequest(req)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := s.service.Compute(context.Background(), decoded, compute.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := compute.DecodeRequest(req); err != nil {
				b.Fatal(err)
			}
			if err := compute.WriteResponse(io.Discard, resp); err != nil {
				b.Fatal(err)
			}
		}
		nsPerSKU(b)
	})
}

// BenchmarkAuth measures what a token costs a one-item compute over
// loopback: the environment's admin token (a hash compared in memory)
// beside a stored token (a hash looked up in SQLite on every request), and
// a stored shop's compute, which also reads the shop and its settings.
func BenchmarkAuth(b *testing.B) {
	s := newServer(b, loadRule(b), serverConfig{})
	s.putShop(b, "bench", seedShopBody)
	s.putSettings(b, "bench", `{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]}`)
	stored := s.createToken(b, "shop:bench")
	inline := []byte(`{"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]},` +
		`"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}],` +
		`"items":[{"id":"v","available":{"A":985}}]}`)
	items := []byte(`{"items":[{"id":"v","available":{"A":985}}]}`)
	client := &http.Client{Transport: s.transport}
	for _, bc := range []struct {
		name, token, path string
		body              []byte
	}{
		{"env-token", testAdminToken, "/v1/compute", inline},
		{"stored-token", stored, "/v1/compute", inline},
		{"stored-shop", stored, "/v1/shops/bench/compute", items},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				s.postRaw(b, client, bc.path, bc.token, bc.body)
			}
		})
	}
}

// postRaw posts body as JSON with client, unchecked against the document,
// and fails unless the answer is 200.
func (s *server) postRaw(b *testing.B, client *http.Client, path, token string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("POST %s: status %d, err %v", path, resp.StatusCode, err)
	}
}
