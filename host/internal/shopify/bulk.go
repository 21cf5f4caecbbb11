package shopify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// bulkQuery reads the catalog in a bulk operation. Connections take no
// page sizes there; the file lists each variant, then (grouped, or later)
// its levels, each with the variant's id in __parentId.
const bulkQuery = `{
  productVariants {
    edges { node {
      id sku inventoryPolicy
      product { id tags }
      inventoryItem { id tracked
        inventoryLevels { edges { node { id ` + levelFields + ` } } }
      }
    } }
  }
}`

// bulkWindow is how many variants the reassembly holds back waiting for
// their levels. Shopify lists a parent's children after it, directly
// after when asked to group objects (as the client asks); the window lets
// a few arrive later without holding the file.
const bulkWindow = 512

// catalogBulk walks the catalog through a bulk operation: start it, wait
// for it, then stream its file.
func (c *Client) catalogBulk(ctx context.Context, emit func(Variant) error) error {
	id, err := c.startBulk(ctx)
	if err != nil {
		return err
	}
	url, err := c.waitBulk(ctx, id)
	if err != nil {
		return err
	}
	if url == "" {
		return nil // an empty catalog has no file
	}
	return c.downloadBulk(ctx, url, func(r io.Reader) error {
		return assembleBulk(r, bulkWindow, emit)
	})
}

func (c *Client) startBulk(ctx context.Context) (string, error) {
	const q = `mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}`
	var out struct {
		Run struct {
			BulkOperation *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"bulkOperation"`
			UserErrors []struct {
				Field   []string `json:"field"`
				Message string   `json:"message"`
				Code    string   `json:"code"`
			} `json:"userErrors"`
		} `json:"bulkOperationRunQuery"`
	}
	if err := c.query(ctx, "bulkOperationRunQuery", 10, q, map[string]any{"query": bulkQuery}, &out); err != nil {
		return "", err
	}
	if len(out.Run.UserErrors) > 0 {
		ue := &UserErrors{Operation: "bulkOperationRunQuery"}
		for _, e := range out.Run.UserErrors {
			ue.Errors = append(ue.Errors, UserError{Field: e.Field, Message: e.Message, Code: e.Code})
		}
		return "", ue
	}
	if out.Run.BulkOperation == nil || out.Run.BulkOperation.ID == "" {
		return "", errors.New("shopify: bulkOperationRunQuery: the answer names no bulk operation")
	}
	return out.Run.BulkOperation.ID, nil
}

// BulkError is a bulk operation that ended without its file.
type BulkError struct {
	ID string
	// Status is FAILED, CANCELED or EXPIRED.
	Status string
	// Code is its errorCode: ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT.
	Code string
}

func (e *BulkError) Error() string {
	return fmt.Sprintf("shopify: bulk operation %s ended %s (%s)", e.ID, e.Status, e.Code)
}

// waitBulk polls the operation until it completes and returns its file's
// URL, "" when the operation found nothing.
func (c *Client) waitBulk(ctx context.Context, id string) (string, error) {
	const q = `query BulkOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}`
	for {
		var out struct {
			Node *struct {
				ID        string  `json:"id"`
				Status    string  `json:"status"`
				ErrorCode *string `json:"errorCode"`
				URL       *string `json:"url"`
			} `json:"node"`
		}
		if err := c.query(ctx, "bulkOperation", 1, q, map[string]any{"id": id}, &out); err != nil {
			return "", err
		}
		if out.Node == nil {
			return "", fmt.Errorf("shopify: bulk operation %s is gone", id)
		}
		switch out.Node.Status {
		case "COMPLETED":
			if out.Node.URL == nil {
				return "", nil
			}
			return *out.Node.URL, nil
		case "FAILED", "CANCELED", "EXPIRED":
			e := &BulkError{ID: id, Status: out.Node.Status}
			if out.Node.ErrorCode != nil {
				e.Code = *out.Node.ErrorCode
			}
			return "", e
		}
		if err := c.sleep(ctx, c.pollInterval); err != nil {
			return "", fmt.Errorf("shopify: waiting for bulk operation %s: %w", id, err)
		}
	}
}

// downloadBulk streams the file at url to read. The URL is signed for
// itself: it gets no access token. A download may take long, so rather
// than a deadline it has an idle timeout: no byte for RequestTimeout ends
// it. A failure before the first byte is retried.
func (c *Client) downloadBulk(ctx context.Context, url string, read func(io.Reader) error) error {
	for try := 1; ; try++ {
		err := c.download(ctx, url, read)
		var started *readError
		if err == nil || errors.As(err, &started) || !isTransient(err) || ctx.Err() != nil || try >= maxAttempts {
			if started != nil {
				return started.err
			}
			return err
		}
		wait := backoff(try)
		c.log.Warn("shopify: retrying the bulk file", "try", try, "wait", wait, "err", err)
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// readError is a failure once the file's lines are being passed on: not
// retried, since lines already went out.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

func (c *Client) download(ctx context.Context, url string, read func(io.Reader) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(c.timeout, func() {
		cancel(fmt.Errorf("shopify: the bulk file sent nothing for %v", c.timeout))
	})
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("shopify: bulk file: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = cause
		}
		return fmt.Errorf("shopify: bulk file: %w", stripQuery(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return &StatusError{Operation: "bulk file", StatusCode: resp.StatusCode, Body: snippet(raw)}
	}
	body := &idleReader{r: resp.Body, timer: idle, d: c.timeout}
	if err := read(bufio.NewReaderSize(body, 64<<10)); err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			err = cause
		}
		return &readError{err: err}
	}
	return nil
}

// stripQuery keeps a signed URL's signature out of an error: the query
// string of a *url.Error is dropped.
func stripQuery(err error) error {
	msg := err.Error()
	if i := strings.IndexByte(msg, '?'); i >= 0 {
		j := strings.IndexAny(msg[i:], "\": ")
		if j < 0 {
			j = len(msg) - i
		}
		return errors.New(msg[:i] + msg[i+j:])
	}
	return err
}

// idleReader bounds each read of the body by the idle timeout: the timer
// runs only while a read waits, so a slow consumer of the lines is not
// taken for a silent server.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.timer.Reset(r.d)
	n, err := r.r.Read(p)
	r.timer.Stop()
	return n, err
}

// bulkLine is any line of the bulk file: a variant, or (with __parentId)
// one of its inventory levels.
type bulkLine struct {
	ParentID        string `json:"__parentId"`
	ID              string `json:"id"`
	SKU             string `json:"sku"`
	InventoryPolicy string `json:"inventoryPolicy"`
	Product         *struct {
		ID   string   `json:"id"`
		Tags []string `json:"tags"`
	} `json:"product"`
	InventoryItem *struct {
		ID      string `json:"id"`
		Tracked bool   `json:"tracked"`
	} `json:"inventoryItem"`
	wireLevel
}

// assembleBulk reads a bulk file of variants and their levels and emits
// each variant with its levels, holding back at most window variants:
// one is emitted once window newer ones have arrived, or at the end. A
// level whose variant is not held (already emitted, or never listed) is an
// error rather than a quantity lost.
func assembleBulk(r io.Reader, window int, emit func(Variant) error) error {
	dec := json.NewDecoder(r)
	var (
		queue  []*Variant // held, oldest first
		byID   = map[string]*Variant{}
		byItem = map[string]*Variant{}
	)
	pop := func() error {
		v := queue[0]
		queue[0] = nil
		queue = queue[1:]
		delete(byID, v.ID)
		delete(byItem, v.InventoryItemID)
		return emit(*v)
	}
	for n := 1; ; n++ {
		var l bulkLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("shopify: bulk file, line %d: %w", n, err)
		}
		if l.ParentID != "" {
			v := byID[l.ParentID]
			if v == nil {
				v = byItem[l.ParentID]
			}
			if v == nil {
				return fmt.Errorf("shopify: bulk file, line %d: a level of %s comes more than %d variants after it, or without it", n, l.ParentID, window)
			}
			addAvailable(v.Available, l.wireLevel)
			continue
		}
		if !strings.Contains(l.ID, "/ProductVariant/") {
			continue // not a line this query makes
		}
		v := &Variant{ID: l.ID, SKU: l.SKU, InventoryPolicy: InventoryPolicy(l.InventoryPolicy), Available: map[string]int{}}
		if l.Product != nil {
			v.ProductID, v.Tags = l.Product.ID, l.Product.Tags
		}
		if l.InventoryItem != nil {
			v.InventoryItemID, v.Tracked = l.InventoryItem.ID, l.InventoryItem.Tracked
		}
		if len(queue) >= window {
			if err := pop(); err != nil {
				return err
			}
		}
		queue = append(queue, v)
		byID[v.ID] = v
		if v.InventoryItemID != "" {
			byItem[v.InventoryItemID] = v
		}
	}
	for len(queue) > 0 {
		if err := pop(); err != nil {
			return err
		}
	}
	return nil
}
