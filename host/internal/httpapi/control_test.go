package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// TestSyncControls: pause, resume and resync over HTTP: their statuses,
// what each refuses and why, the jobs they enqueue, and the paused flag
// and resync run GET .../sync shows.
func TestSyncControls(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 5, Variants: 2, Locations: 2, Seed: 7})
	q := &webhookQueue{}
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms, queue: q})
	s.putShop(t, "acme", `{"shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	q.taken()

	pr := problemOf(t, s.do(t, http.MethodPost, "/v1/shops/acme/sync/resync", "", ""), http.StatusConflict)
	if !strings.Contains(pr.Detail, "not connected") || !strings.Contains(pr.Detail, "/sync/connect") {
		t.Errorf("resync of a shop not connected: %q, want it to say to connect first", pr.Detail)
	}
	s.connect(t, "acme")
	if st := s.waitRun(t, "acme"); st.Run.State != "succeeded" {
		t.Fatalf("connect: %+v", st.Run)
	}
	q.taken()

	// control posts a control and decodes the status it answers.
	control := func(action string) syncStatusDoc {
		t.Helper()
		ex := s.do(t, http.MethodPost, "/v1/shops/acme/sync/"+action, "", "")
		if ex.status != http.StatusOK {
			t.Fatalf("POST .../sync/%s: %d %s", action, ex.status, ex.body)
		}
		var st syncStatusDoc
		decodeStrict(t, ex.body, &st)
		return st
	}
	if st := control("pause"); !st.Sync.Paused || st.Shop != "acme" || !st.Connected {
		t.Errorf("pause answered %+v, want paused", st)
	}
	if st := s.syncStatus(t, "acme"); !st.Sync.Paused || !st.Sync.AllPending || st.Sync.Failures == nil {
		t.Errorf("status after pause: %+v; want paused, every item pending (the connect's), failures []", st.Sync)
	}
	if got := q.taken(); len(got) != 0 {
		t.Errorf("pause enqueued %v", got)
	}
	pr = problemOf(t, s.do(t, http.MethodPost, "/v1/shops/acme/sync/resync", "", ""), http.StatusConflict)
	if !strings.Contains(pr.Detail, "paused") || !strings.Contains(pr.Detail, "/sync/resume") {
		t.Errorf("resync of a paused shop: %q, want it to say to resume first", pr.Detail)
	}
	if st := control("pause"); !st.Sync.Paused {
		t.Error("pausing a paused shop unpaused it")
	}
	if st := control("resume"); st.Sync.Paused {
		t.Error("resume answered paused")
	}
	if got := q.taken(); !slices.Equal(got, []string{"acme *sql.Tx"}) {
		t.Errorf("resume enqueued %v, want the shop's job in the store's transaction", got)
	}

	ex := s.do(t, http.MethodPost, "/v1/shops/acme/sync/resync", "", "")
	if ex.status != http.StatusAccepted || ex.header.Get("Location") != "/v1/shops/acme/sync" {
		t.Fatalf("resync: %d (Location %q) %s", ex.status, ex.header.Get("Location"), ex.body)
	}
	var run runDoc
	decodeStrict(t, ex.body, &run)
	if run.Kind != "resync" || run.State != "running" || run.Phase != "publishing" || run.Done != 0 || run.Total != int64(len(p.catalog.Links)) {
		t.Errorf("the resync run: %+v; want resync running in phase publishing, 0 of %d linked items", run, len(p.catalog.Links))
	}
	if got := q.taken(); !slices.Equal(got, []string{"acme *sql.Tx"}) {
		t.Errorf("resync enqueued %v, want the shop's job in the store's transaction", got)
	}
	if st := s.syncStatus(t, "acme"); st.Run == nil || st.Run.ID != run.ID || st.Run.State != "running" || !st.Sync.AllPending {
		t.Errorf("status during the resync: run %+v, sync %+v", st.Run, st.Sync)
	}
	pr = problemOf(t, s.do(t, http.MethodPost, "/v1/shops/acme/sync/resync", "", ""), http.StatusConflict)
	if !strings.Contains(pr.Detail, "still running") {
		t.Errorf("a resync during a resync: %q, want it to name the running run", pr.Detail)
	}
	// A pause ends the resync: what it did not publish waits for resume.
	control("pause")
	if st := s.syncStatus(t, "acme"); st.Run == nil || st.Run.State != "interrupted" || !strings.Contains(st.Run.Error, "paused") {
		t.Errorf("the resync after a pause: %+v, want interrupted by the pause", st.Run)
	}
	// A connect takes a resync over: its own success republishes the shop.
	control("resume")
	if ex := s.do(t, http.MethodPost, "/v1/shops/acme/sync/resync", "", ""); ex.status != http.StatusAccepted {
		t.Fatalf("resync after resume: %d %s", ex.status, ex.body)
	}
	s.connect(t, "acme")
	if st := s.waitRun(t, "acme"); st.Run.Kind != "connect" || st.Run.State != "succeeded" {
		t.Errorf("a connect during a resync: %+v, want it to run", st.Run)
	}

	for _, action := range []string{"pause", "resume", "resync"} {
		problemOf(t, s.do(t, http.MethodPost, "/v1/shops/nope/sync/"+action, "", ""), http.StatusNotFound)
	}
}
