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
	api atomic.Pointer[Handler]
}

// Ready makes h serve every request from now on.
func (s *Switch) Ready(h *Handler) { s.api.Store(h) }

func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.api.Load(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		writeStatus(w, http.StatusOK, "starting")
	case "/readyz":
		writeStatus(w, http.StatusServiceUnavailable, "starting")
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
