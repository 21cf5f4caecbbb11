package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a Client. Domain (or BaseURL) and AccessToken are
// required; the rest have defaults.
type Options struct {
	// Domain is the shop's myshopify domain, "acme.myshopify.com".
	Domain string
	// AccessToken is the app's Admin API access token for the shop. It is
	// sent in X-Shopify-Access-Token and nowhere else: never logged, never
	// part of an error.
	AccessToken string
	// BaseURL is the Admin API's origin; "" is https://{Domain}. Tests and
	// the demo point it at the fake.
	BaseURL string
	// APIVersion is the Admin API release spoken, "2026-10" by default.
	APIVersion string
	// BulkAbove: a catalog of more variants than this is read with a bulk
	// operation, a smaller one page by page. 0 reads every catalog in bulk.
	BulkAbove int
	// RequestTimeout bounds each request (each attempt), 30 s by default.
	// A bulk file's download may take longer; it fails when no byte has
	// arrived for this long.
	RequestTimeout time.Duration
	// BulkPollInterval is the wait between two looks at a running bulk
	// operation, 2 s by default.
	BulkPollInterval time.Duration
	// HTTPClient sends the requests; nil is a client of its own.
	HTTPClient *http.Client
	// Logger gets a debug line per request and a warning per retry;
	// nil is slog.Default().
	Logger *slog.Logger
	// Pacer keeps the shop's cost bucket; clients given the same Pacer
	// share it. nil is one of the client's own (NewPacer).
	Pacer Pacer
}

// DefaultAPIVersion is the Admin API release spoken when Options leave it
// unset.
const DefaultAPIVersion = "2026-10"

const (
	defaultTimeout      = 30 * time.Second
	defaultPollInterval = 2 * time.Second
	// maxAttempts bounds the tries of one request that fails transiently
	// (5xx, a dropped connection).
	maxAttempts = 6
	// maxThrottled bounds the THROTTLED answers taken for one request
	// before giving up: each is followed by a wait for the bucket to refill,
	// so many in a row mean another client drains the same bucket.
	maxThrottled = 10
	// maxQueryCost is the most a single query may cost.
	maxQueryCost = 1000
	// maxIDs is the most ids nodes(ids:) takes.
	maxIDs = 250
	// maxPage is the most objects a connection returns per page.
	maxPage = 250
	// backoffBase and backoffCap bound the jittered wait between tries.
	backoffBase = 250 * time.Millisecond
	backoffCap  = 10 * time.Second
)

// Client speaks the Admin GraphQL API of one shop. It is safe for
// concurrent use; concurrent requests share the shop's cost bucket.
type Client struct {
	endpoint     string
	token        string
	bulkAbove    int
	timeout      time.Duration
	pollInterval time.Duration
	http         *http.Client
	log          *slog.Logger
	pacer        Pacer

	// now and sleep are the clock, replaced in tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// noPacing sends without waiting for the bucket (THROTTLED answers are
	// still retried): a test compares the two.
	noPacing bool

	mu        sync.Mutex
	locations int // how many locations the shop has, 0 until known
}

// New returns a client for the shop Options name.
func New(o Options) (*Client, error) {
	if o.AccessToken == "" {
		return nil, errors.New("shopify: Options.AccessToken is empty: give the shop's Admin API access token")
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		if o.Domain == "" || strings.ContainsAny(o.Domain, "/:@ ") {
			return nil, fmt.Errorf("shopify: Options.Domain %q is not a shop domain: give \"acme.myshopify.com\" or a BaseURL", o.Domain)
		}
		base = "https://" + o.Domain
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.BulkAbove < 0 {
		return nil, fmt.Errorf("shopify: Options.BulkAbove is %d: give 0 (always bulk) or more", o.BulkAbove)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultTimeout
	}
	if o.BulkPollInterval <= 0 {
		o.BulkPollInterval = defaultPollInterval
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Pacer == nil {
		o.Pacer = NewPacer()
	}
	return &Client{
		endpoint:     base + "/admin/api/" + o.APIVersion + "/graphql.json",
		token:        o.AccessToken,
		bulkAbove:    o.BulkAbove,
		timeout:      o.RequestTimeout,
		pollInterval: o.BulkPollInterval,
		http:         o.HTTPClient,
		log:          o.Logger,
		pacer:        o.Pacer,
		now:          time.Now,
		sleep:        sleepCtx,
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// GraphQLError is one entry of an answer's top-level errors.
type GraphQLError struct {
	Message string
	// Code is extensions.code: THROTTLED, MAX_COST_EXCEEDED,
	// ACCESS_DENIED, …; "" when the answer gave none.
	Code string
	// Path is where in the query it happened, as the answer gave it.
	Path []any
}

// QueryError is an answer whose top-level errors say the query failed.
type QueryError struct {
	Operation string
	Errors    []GraphQLError
}

func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shopify: %s:", e.Operation)
	for i, g := range e.Errors {
		if i > 0 {
			b.WriteString(";")
		}
		b.WriteString(" " + g.Message)
		if g.Code != "" {
			b.WriteString(" (" + g.Code + ")")
		}
	}
	return b.String()
}

// HasCode says whether one of the errors has the code.
func (e *QueryError) HasCode(code string) bool {
	for _, g := range e.Errors {
		if g.Code == code {
			return true
		}
	}
	return false
}

// UserError is a mutation's refusal of its input.
type UserError struct {
	Field   []string
	Message string
	Code    string
}

// UserErrors are what a mutation refused, as its userErrors gave them.
type UserErrors struct {
	Operation string
	Errors    []UserError
}

func (e *UserErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shopify: %s refused:", e.Operation)
	for i, u := range e.Errors {
		if i > 0 {
			b.WriteString(";")
		}
		if len(u.Field) > 0 {
			b.WriteString(" " + strings.Join(u.Field, ".") + ":")
		}
		b.WriteString(" " + u.Message)
		if u.Code != "" {
			b.WriteString(" (" + u.Code + ")")
		}
	}
	return b.String()
}

// StatusError is an HTTP answer other than 200.
type StatusError struct {
	Operation  string
	StatusCode int
	// Body is the start of the answer's body, for the operator.
	Body string
	// RetryAfter is the wait a 429 asked for, 0 if none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	hint := ""
	switch e.StatusCode {
	case http.StatusUnauthorized:
		hint = ": the access token was refused; reconnect the shop"
	case http.StatusForbidden:
		hint = ": the app lacks a scope it needs (read_products, read_inventory, read_locations)"
	case http.StatusPaymentRequired, http.StatusLocked:
		hint = ": the shop is frozen or locked"
	case http.StatusNotFound:
		hint = ": no such shop or API version"
	}
	return fmt.Sprintf("shopify: %s: HTTP %d%s: %s", e.Operation, e.StatusCode, hint, e.Body)
}

// transient says whether trying again may help.
func (e *StatusError) transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// cost is an answer's extensions.cost.
type cost struct {
	RequestedQueryCost float64         `json:"requestedQueryCost"`
	ActualQueryCost    float64         `json:"actualQueryCost"`
	ThrottleStatus     *throttleStatus `json:"throttleStatus"`
}

// throttleStatus is the shop's cost bucket as an answer reports it.
type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

type wireError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

type answer struct {
	Data       json.RawMessage `json:"data"`
	Errors     []wireError     `json:"errors"`
	Extensions struct {
		Cost *cost `json:"cost"`
	} `json:"extensions"`
}

// query sends one GraphQL operation and decodes its data into out. op
// names it (in logs and errors); estimate is its cost as the client
// computes it from the query's shape, used until an answer says what the
// operation costs.
//
// It waits until the cost bucket holds the operation's cost, retries a
// THROTTLED answer once the bucket has refilled, and retries transient
// failures with jittered backoff.
func (c *Client) query(ctx context.Context, op string, estimate float64, q string, vars map[string]any, out any) error {
	body, err := json.Marshal(struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables,omitempty"`
	}{q, vars})
	if err != nil {
		return fmt.Errorf("shopify: %s: %w", op, err)
	}
	throttled, failures := 0, 0
	for {
		var tk ticket
		if !c.noPacing {
			if tk, err = c.pacer.take(ctx, op, estimate, true, c.now, c.sleep); err != nil {
				return fmt.Errorf("shopify: %s: waiting for the cost bucket: %w", op, err)
			}
		}
		start := c.now()
		ans, err := c.post(ctx, op, body)
		// The bucket's account is kept even when the request was cancelled.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		var perr error
		if ans != nil && ans.Extensions.Cost != nil {
			perr = c.pacer.observe(pctx, op, *ans.Extensions.Cost, tk, c.now())
		} else {
			perr = c.pacer.release(pctx, tk)
		}
		cancel()
		if perr != nil {
			c.log.Warn("shopify: the shared cost bucket was not updated; it refills by itself", "op", op, "err", perr)
		}
		if err != nil {
			if !isTransient(err) || ctx.Err() != nil {
				return err
			}
			failures++
			if failures >= maxAttempts {
				return fmt.Errorf("%w (gave up after %d tries)", err, failures)
			}
			wait := backoff(failures)
			var se *StatusError
			if errors.As(err, &se) && se.StatusCode == http.StatusTooManyRequests {
				wait = max(wait, se.RetryAfter, time.Second)
			}
			c.log.Warn("shopify: retrying", "op", op, "try", failures, "wait", wait, "err", err)
			if err := c.sleep(ctx, wait); err != nil {
				return fmt.Errorf("shopify: %s: %w", op, err)
			}
			continue
		}
		if qe := ans.queryError(op); qe != nil {
			if qe.HasCode("THROTTLED") {
				throttled++
				if throttled > maxThrottled {
					return fmt.Errorf("%w (throttled %d times: another client may be spending the same bucket)", qe, throttled)
				}
				c.log.Warn("shopify: throttled; waiting for the bucket to refill", "op", op, "times", throttled)
				if c.noPacing {
					// Without pacing the retry still waits for the refill.
					if _, err := c.pacer.take(ctx, op, estimate, false, c.now, c.sleep); err != nil {
						return fmt.Errorf("shopify: %s: waiting for the cost bucket: %w", op, err)
					}
				}
				continue
			}
			return qe
		}
		c.log.Debug("shopify: answered", "op", op, "took", c.now().Sub(start), "cost", costLog(ans.Extensions.Cost))
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(ans.Data, out); err != nil {
			return fmt.Errorf("shopify: %s: the answer's data does not decode: %w", op, err)
		}
		return nil
	}
}

func costLog(c *cost) string {
	if c == nil || c.ThrottleStatus == nil {
		return "none"
	}
	return fmt.Sprintf("%g of %g (bucket %g/%g)", c.ActualQueryCost, c.RequestedQueryCost,
		c.ThrottleStatus.CurrentlyAvailable, c.ThrottleStatus.MaximumAvailable)
}

func (a *answer) queryError(op string) *QueryError {
	if len(a.Errors) == 0 {
		return nil
	}
	qe := &QueryError{Operation: op}
	for _, e := range a.Errors {
		qe.Errors = append(qe.Errors, GraphQLError{Message: e.Message, Code: e.Extensions.Code, Path: e.Path})
	}
	return qe
}

// post sends one attempt, bounded by the request timeout.
func (c *Client) post(ctx context.Context, op string, body []byte) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("shopify: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		// The error names the URL, which holds no secret.
		return nil, fmt.Errorf("shopify: %s: %w", op, err)
	}
	defer resp.Body.Close()
	// Bound what one answer may take: the largest page is a few MB.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("shopify: %s: reading the answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Operation: op, StatusCode: resp.StatusCode, Body: snippet(raw)}
		// Shopify's Retry-After is seconds, possibly fractional ("2.0").
		if secs, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil && secs > 0 && secs < 3600 {
			se.RetryAfter = time.Duration(secs * float64(time.Second))
		}
		return nil, se
	}
	var ans answer
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Numbers in error paths and the like stay json.Number: ids exceed
	// 2^53 and a float64 would round them.
	dec.UseNumber()
	if err := dec.Decode(&ans); err != nil {
		return nil, fmt.Errorf("shopify: %s: the answer is not GraphQL JSON (%v): %s", op, err, snippet(raw))
	}
	return &ans, nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// isTransient says whether an error of one attempt may pass on another:
// a 5xx or 429, a dropped or refused connection, a timeout of the attempt.
func isTransient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.transient()
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// backoff is the wait before try n+1: full jitter on an exponential bound,
// so clients that failed together do not retry together.
func backoff(n int) time.Duration {
	bound := min(backoffBase<<min(n-1, 10), backoffCap)
	return bound/2 + rand.N(bound/2+1)
}
