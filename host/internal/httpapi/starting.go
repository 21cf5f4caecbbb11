package httpapi

import (
	"net/http"
	"sync/atomic"

	"encoding/json"

	"github.com/syncrules/syncrules/host/internal/problem"
)

// Switch serves a starting server's answers until Ready hands it the API:
// the port answers at once, /healthz says the process is up, /readyz and
// every other route say it is starting, so a load balancer and a newcomer
// both see what is happening rather than a refused connection.
type Switch struct {
	api      atomic.Pointer[Handler]
	draining atomic.Bool
}

// Ready makes h serve every request from now on.
func (s *Switch) Ready(h *Handler) {
	// Stored before the check, as Drain sets before it loads: whichever
	// runs second drains h.
	s.api.Store(h)
	if s.draining.Load() {
		h.Drain()
	}
}

// Drain makes /healthz and /readyz answer 503 "draining" from now on, ready
// or not, while every other request is still served: the server is about
// to stop, and a load balancer must see it before the port closes.
func (s *Switch) Drain() {
	s.draining.Store(true)
	if h := s.api.Load(); h != nil {
		h.Drain()
	}
}

func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.api.Load(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	// The API sets these on its own answers; a starting server's carry
	// them too.
	setSecurityHeaders(w.Header())
	switch r.URL.Path {
	case "/healthz":
		if s.draining.Load() {
			writeStatus(w, http.StatusServiceUnavailable, "draining")
			return
		}
		writeStatus(w, http.StatusOK, "starting")
	case "/readyz":
		status := "starting"
		if s.draining.Load() {
			status = "draining"
		}
		writeStatus(w, http.StatusServiceUnavailable, status)
	default:
		b, _ := json.Marshal(problem.New(http.StatusServiceUnavailable, "The server is starting: its default rule is loading. Try again in a moment."))
		w.Header().Set("Content-Type", problem.ContentType)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(b)
	}
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"status": status})
	w.Write(b)
}
