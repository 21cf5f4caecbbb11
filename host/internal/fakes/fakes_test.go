package fakes_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
)

func TestFaultLifetimes(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fs := fakes.NewFaults(func() time.Time { return now })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fs.Add(fakes.Fault{Status: 503}))                                                                           // the next request
	must(fs.Add(fakes.Fault{Status: 429, Count: 2, Path: "/inventory"}))                                             // two matching requests
	must(fs.Add(fakes.Fault{Latency: fakes.Duration(time.Second), For: fakes.Duration(time.Minute), Path: "/slow"})) // a minute
	must(fs.Add(fakes.Fault{SKUID: "1", Code: 12052109}))

	take := func(path string) int {
		f, ok := fs.Take(path)
		if !ok {
			return 0
		}
		if f.Latency > 0 {
			return -1
		}
		return f.Status
	}
	for i, tc := range []struct {
		path string
		want int
		then time.Duration
	}{
		{"/inventory", 503, 0}, // the first fault in force that matches
		{"/inventory", 429, 0},
		{"/other", 0, 0},
		{"/inventory", 429, 0},
		{"/inventory", 0, 0},
		{"/slow", -1, 59 * time.Second},
		{"/slow", -1, time.Second},
		{"/slow", 0, 0},
	} {
		if got := take(tc.path); got != tc.want {
			t.Errorf("step %d (%s): %d, want %d", i, tc.path, got, tc.want)
		}
		now = now.Add(tc.then)
	}
	if _, ok := fs.TakeSKU("/update", "2"); ok {
		t.Error("a SKU fault hit another SKU")
	}
	if f, ok := fs.TakeSKU("/update", "1"); !ok || f.Code != 12052109 {
		t.Errorf("SKU fault: %+v %v", f, ok)
	}
	for _, bad := range []fakes.Fault{{}, {Status: 404}, {Count: -1, Drop: true}} {
		if fs.Add(bad) == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func TestRequestLogRedactsSecrets(t *testing.T) {
	r := httptest.NewRequest("POST", "/x?app_key=k&sign=abc&access_token=t&refresh_token=r&app_secret=s&page_size=5", strings.NewReader("{}"))
	r.Header.Set("X-Shopify-Access-Token", "shpat_secret")
	r.Header.Set("x-tts-access-token", "TTP_secret")
	r.Header.Set("Authorization", "signature")
	entry := fakes.NewRequest(r, []byte("{}"), time.Now())
	b, _ := json.Marshal(entry)
	for _, secret := range []string{"abc", "shpat_secret", "TTP_secret", "signature", `"t"`, `"r"`, `"s"`} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the log keeps %s: %s", secret, b)
		}
	}
	if entry.Query.Get("page_size") != "5" || entry.Query.Get("app_key") != "k" || entry.Header.Get("X-Shopify-Access-Token") != fakes.Redacted {
		t.Errorf("the log lost what is not secret: %s", b)
	}

	log := fakes.NewLog(2)
	for _, p := range []string{"/1", "/2", "/3"} {
		log.Add(fakes.Request{Path: p})
	}
	if got := log.Requests(); len(got) != 2 || got[0].Path != "/2" {
		t.Errorf("a log of 2 keeps %+v, want the last two", got)
	}
}
