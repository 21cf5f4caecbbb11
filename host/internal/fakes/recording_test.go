package fakes_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
)

// recording is a fake's faults and request log, as ServeRecording sees them.
type recording struct {
	faults *fakes.Faults
	log    *fakes.Log
}

func (r recording) InjectFault(f fakes.Fault) error { return r.faults.Add(f) }
func (r recording) ClearFaults()                    { r.faults.Clear() }
func (r recording) Requests() []fakes.Request       { return r.log.Requests() }
func (r recording) ResetRequests()                  { r.log.Reset() }

// TestServeRecording: the control routes both fakes share add and clear
// faults and read and forget the request log; other routes are left to
// the fake.
func TestServeRecording(t *testing.T) {
	rec := recording{faults: fakes.NewFaults(time.Now), log: fakes.NewLog(100)}
	serve := func(method, path, body string) (bool, int, string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, fakes.ControlPrefix+path, strings.NewReader(body))
		handled := fakes.ServeRecording(w, r, method+" "+path, rec)
		return handled, w.Code, w.Body.String()
	}
	if handled, code, body := serve("POST", "faults", `{"status": 503, "count": 1}`); !handled || code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("POST faults = %t %d %s", handled, code, body)
	}
	if _, ok := rec.faults.Take("/anything"); !ok {
		t.Error("the fault was not added")
	}
	if handled, code, body := serve("POST", "faults", `{"stauts": 503}`); !handled || code != http.StatusBadRequest || !strings.Contains(body, "stauts") {
		t.Errorf("POST faults with an unknown field = %t %d %s, want 400 naming it", handled, code, body)
	}
	if handled, code, body := serve("GET", "requests", ""); !handled || code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("GET requests = %t %d %s, want an empty list", handled, code, body)
	}
	if handled, code, _ := serve("DELETE", "faults", ""); !handled || code != http.StatusOK {
		t.Errorf("DELETE faults = %t %d", handled, code)
	}
	if handled, _, _ := serve("GET", "stock", ""); handled {
		t.Error("a fake's own route was answered as a shared one")
	}
}
