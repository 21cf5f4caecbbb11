package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// syncHistoryJSON is a page of GET .../sync/history, newest first.
type syncHistoryJSON struct {
	Entries []shop.HistoryEntry `json:"entries"`
	Next    string              `json:"next,omitempty"`
}

func (h *Handler) syncHistory(c *gin.Context) {
	var probs []compute.FieldError
	f := shop.HistoryFilter{SKUID: c.Query("sku"), Cause: c.Query("cause")}
	for _, p := range []struct{ name, value string }{{"sku", f.SKUID}, {"cause", f.Cause}} {
		if _, ok := c.GetQuery(p.name); ok && p.value == "" {
			probs = append(probs, compute.FieldError{Field: p.name, Detail: "is empty: give a value, or leave it out for every one"})
		}
	}
	if v, ok := c.GetQuery("since"); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			probs = append(probs, compute.FieldError{Field: "since", Detail: fmt.Sprintf("must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", v)})
		}
		f.Since = t
	}
	// A cursor belongs to its shop and filters: one of another list is
	// refused rather than read as a place in this one.
	list := "sync-history:" + strings.Join([]string{strconv.Quote(c.Param("shop")), strconv.Quote(f.SKUID), strconv.Quote(f.Cause),
		strconv.Quote(c.Query("since"))}, ":")
	q := readPage(c, list, shop.DefaultPageSize, shop.MaxPageSize, 1, &probs)
	var before int64
	if q.key != nil {
		n, err := strconv.ParseInt(q.key[0], 10, 64)
		if err != nil || n <= 0 {
			probs = append(probs, compute.FieldError{Field: "cursor", Detail: "is not a cursor this API gave: leave cursor out for the first page"})
		}
		before = n
	}
	if malformedQuery(c, probs) {
		return
	}
	entries, more, err := h.svc.SyncHistoryPage(c.Request.Context(), principal(c), c.Param("shop"), f, before, q.limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := syncHistoryJSON{Entries: nonNil(entries)}
	for i := range out.Entries {
		out.Entries[i] = historyJSON(out.Entries[i])
	}
	if more && len(entries) > 0 {
		out.Next = encodeCursor(list, strconv.FormatInt(entries[len(entries)-1].ID, 10))
	}
	c.JSON(http.StatusOK, out)
}

// historyJSON answers an entry's empty maps as {}, never null.
func historyJSON(e shop.HistoryEntry) shop.HistoryEntry {
	if e.Computed == nil {
		e.Computed = map[string]int{}
	}
	return e
}

func (h *Handler) syncItem(c *gin.Context) {
	r, err := h.svc.SyncItem(c.Request.Context(), principal(c), c.Param("shop"), c.Param("variant"))
	if err != nil {
		h.fail(c, err)
		return
	}
	r.Variant = variantJSON(r.Variant)
	for i := range r.History {
		r.History[i] = historyJSON(r.History[i])
	}
	c.JSON(http.StatusOK, r)
}

func (h *Handler) replayHistory(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(c, problem.New(http.StatusBadRequest, "The path is malformed.",
			compute.FieldError{Field: "id", Detail: fmt.Sprintf("must be a history entry's id, a positive integer, got %q", c.Param("id"))}))
		return
	}
	r, err := h.svc.ReplayHistory(c.Request.Context(), principal(c), c.Param("shop"), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	r.Entry = historyJSON(r.Entry)
	c.JSON(http.StatusOK, r)
}
