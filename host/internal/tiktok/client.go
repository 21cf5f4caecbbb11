package tiktok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options configure a Client. Zero fields take the defaults given.
type Options struct {
	// AppKey and AppSecret identify the app the shop authorised. Required.
	AppKey, AppSecret string
	// BaseURL is the Open API's origin (https://open-api.tiktokglobalshop.com);
	// AuthBaseURL the token endpoints' (https://auth.tiktok-shops.com).
	BaseURL, AuthBaseURL string
	// RequestTimeout bounds each attempt of a request (30 s).
	RequestTimeout time.Duration
	// HTTPClient sends the requests (a client of its own, without timeout:
	// each attempt has RequestTimeout).
	HTTPClient *http.Client
	// Logger gets one debug line per attempt and a line per retry, renewal
	// and refused refresh token; never a token, secret or sign (slog.Default()).
	Logger *slog.Logger
	// MaxAttempts bounds the attempts of one request (5).
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between attempts: a random
	// wait up to RetryBase×2^(attempt-1), capped at RetryMax (500 ms, 30 s).
	RetryBase, RetryMax time.Duration
	// Rate is the requests per second a shop starts at (10); while the
	// shop has more to send, its rate climbs to MaxRate (50, and at least
	// Rate). Burst is how many may go at once (5), MinRate the floor that
	// rate-limited answers halve the rate to (0.5).
	Rate    rate.Limit
	MaxRate rate.Limit
	Burst   int
	MinRate rate.Limit
	// RefreshBefore: an access token expiring within this is renewed
	// before use (10 min).
	RefreshBefore time.Duration
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
	// Paces, if set, keep each shop's pace for every process of the app
	// (replicas on one database), on their shared clock; nil keeps it in
	// this Client's memory. The token endpoints' pace stays in memory.
	Paces SharedPaces
}

const (
	defaultBaseURL     = "https://open-api.tiktokglobalshop.com"
	defaultAuthBaseURL = "https://auth.tiktok-shops.com"
	// maxAnswerBytes bounds an answer read into memory. The largest are
	// product pages of 100 products with their SKUs: a few MiB.
	maxAnswerBytes = 64 << 20
	// defaultMaxRate bounds a shop's climb: TikTok publishes no limit, and
	// 50 a second is the one partners report (RATIONALE.md, "Why does the
	// TikTok pace climb until TikTok says no?"); a lower one answers 429.
	defaultMaxRate = 50
)

// Client calls the TikTok Shop Open API (version 202309) for one app. It is
// safe for concurrent use. Shop gives the calls of one shop.
type Client struct {
	opt            Options
	base, authBase string
	log            *slog.Logger
	authLimiter    *adaptiveLimiter

	mu       sync.Mutex
	limiters map[string]limiter // by shop cipher
}

// New checks the options and returns a Client.
func New(opt Options) (*Client, error) {
	if opt.AppKey == "" || opt.AppSecret == "" {
		return nil, errors.New("tiktok: the app key and app secret are required: set the shop's tiktok credentials")
	}
	if opt.BaseURL == "" {
		opt.BaseURL = defaultBaseURL
	}
	if opt.AuthBaseURL == "" {
		opt.AuthBaseURL = defaultAuthBaseURL
	}
	for name, u := range map[string]string{"base URL": opt.BaseURL, "auth base URL": opt.AuthBaseURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
			return nil, fmt.Errorf("tiktok: %s %q must be an http(s) origin such as %q", name, u, defaultBaseURL)
		}
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 30 * time.Second
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 5
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = 500 * time.Millisecond
	}
	if opt.RetryMax <= 0 {
		opt.RetryMax = 30 * time.Second
	}
	if opt.Rate <= 0 {
		opt.Rate = 10
	}
	if opt.MaxRate <= 0 {
		opt.MaxRate = defaultMaxRate
	}
	opt.MaxRate = max(opt.MaxRate, opt.Rate)
	if opt.Burst <= 0 {
		opt.Burst = 5
	}
	if opt.MinRate <= 0 || opt.MinRate > opt.Rate {
		opt.MinRate = min(0.5, opt.Rate)
	}
	if opt.RefreshBefore <= 0 {
		opt.RefreshBefore = 10 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	c := &Client{
		opt:      opt,
		base:     strings.TrimRight(opt.BaseURL, "/"),
		authBase: strings.TrimRight(opt.AuthBaseURL, "/"),
		log:      opt.Logger,
		limiters: map[string]limiter{},
	}
	c.authLimiter = c.newLimiter()
	return c, nil
}

func (c *Client) newLimiter() *adaptiveLimiter {
	return newAdaptiveLimiter(c.opt.Rate, c.opt.MaxRate, c.opt.MinRate, c.opt.Burst, c.opt.Now)
}

// shopLimiter is a new pace for the shop with this cipher: kept in
// Options.Paces if set (a shop not known yet, without a cipher, keeps its
// own).
func (c *Client) shopLimiter(cipher string) limiter {
	l := c.newLimiter()
	if c.opt.Paces == nil || cipher == "" {
		return l
	}
	return &sharedLimiter{paces: c.opt.Paces, appKey: c.opt.AppKey, cipher: cipher, bounds: l.bounds, log: c.log}
}

// Shop is the calls of one shop: its cipher (empty before the shop is
// known; only AuthorizedShops works then) and its tokens. Keep one Shop per
// shop: it caches the tokens, and its requests share the shop's rate
// limiter (shared by every Shop of the same cipher on this Client).
type Shop struct {
	c      *Client
	cipher string
	tokens TokenStore
	lim    limiter
	tok    tokenState
}

// Shop returns the calls of the shop with this cipher, authorised with the
// tokens in store.
func (c *Client) Shop(cipher string, store TokenStore) *Shop {
	c.mu.Lock()
	lim, ok := c.limiters[cipher]
	if !ok {
		lim = c.shopLimiter(cipher)
		c.limiters[cipher] = lim
	}
	c.mu.Unlock()
	return &Shop{c: c, cipher: cipher, tokens: store, lim: lim, tok: tokenState{sem: make(chan struct{}, 1)}}
}

// Cipher is the shop's cipher.
func (s *Shop) Cipher() string { return s.cipher }

// call is one request to send.
type call struct {
	method, base, path string
	query              map[string]string // without timestamp and sign
	body               []byte            // exactly as sent and signed; nil for none
	signed             bool
	accessToken        string
	limiter            limiter
}

// envelope is every answer's outer shape.
type envelope struct {
	Code      int64           `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// do sends a shop request: signed, with the shop's cipher unless unscoped,
// and its access token. An access token TikTok calls expired is renewed
// once and the request sent again.
func (s *Shop) do(ctx context.Context, method, path string, params map[string]string, body any, scoped bool, out any) (string, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return "", fmt.Errorf("tiktok: encoding the request to %s: %w", path, err)
		}
	}
	query := map[string]string{"app_key": s.c.opt.AppKey}
	for k, v := range params {
		query[k] = v
	}
	if scoped {
		if s.cipher == "" {
			return "", fmt.Errorf("tiktok: %s needs the shop's cipher: set it from AuthorizedShops", path)
		}
		query["shop_cipher"] = s.cipher
	}
	token, err := s.accessToken(ctx)
	if err != nil {
		return "", err
	}
	req := call{method: method, base: s.c.base, path: path, query: query, body: raw, signed: true, accessToken: token, limiter: s.lim}
	id, err := s.c.send(ctx, req, out)
	if !errors.Is(err, ErrExpiredToken) {
		return id, err
	}
	s.c.log.InfoContext(ctx, "tiktok: access token refused as expired; renewing it", "path", path)
	if req.accessToken, err = s.renewAfterExpired(ctx, token); err != nil {
		return "", err
	}
	return s.c.send(ctx, req, out)
}

// send sends req, retrying transient failures with backoff; each attempt
// is signed afresh with its own timestamp. It decodes the answer's data
// into out and returns the request id.
func (c *Client) send(ctx context.Context, req call, out any) (string, error) {
	var last error
	for attempt := 1; ; attempt++ {
		if err := req.limiter.wait(ctx); err != nil {
			return "", giveUp(ctx, req, attempt-1, last, err)
		}
		env, err := c.attempt(ctx, req, attempt)
		if err == nil {
			if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
				if err := json.Unmarshal(env.Data, out); err != nil {
					return env.RequestID, fmt.Errorf("tiktok: %s: the answer's data does not have the expected shape: %w [request_id %s]", req.path, err, env.RequestID)
				}
			}
			return env.RequestID, nil
		}
		if errors.Is(err, ErrRateLimited) {
			req.limiter.refused(ctx)
		}
		last = err
		if ctx.Err() != nil {
			return "", giveUp(ctx, req, attempt, last, ctx.Err())
		}
		if !IsTransient(err) || attempt >= c.opt.MaxAttempts {
			return "", err
		}
		delay := c.backoff(attempt)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return "", giveUp(ctx, req, attempt, last, context.DeadlineExceeded)
		}
		c.log.InfoContext(ctx, "tiktok: retrying", "method", req.method, "path", req.path,
			"attempt", attempt, "delay", delay, "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", giveUp(ctx, req, attempt, last, ctx.Err())
		}
	}
}

// giveUp is the error of a request whose context ended (or would end
// before the next attempt): the context's error and the last failure.
func giveUp(ctx context.Context, req call, attempts int, last, cause error) error {
	if last == nil {
		return fmt.Errorf("tiktok: %s %s: %w", req.method, req.path, cause)
	}
	return fmt.Errorf("tiktok: %s %s: gave up after %d attempt(s): %w; last failure: %w", req.method, req.path, attempts, cause, last)
}

// backoff is the wait before attempt+1: "full jitter", a random duration
// up to RetryBase×2^(attempt-1), capped at RetryMax.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.opt.RetryMax
	if attempt < 30 {
		ceiling = min(ceiling, c.opt.RetryBase<<(attempt-1))
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// attempt sends req once, with a fresh timestamp and sign, within
// RequestTimeout.
func (c *Client) attempt(ctx context.Context, req call, attempt int) (envelope, error) {
	query := url.Values{}
	for k, v := range req.query {
		query.Set(k, v)
	}
	if req.signed {
		params := make(map[string]string, len(req.query)+1)
		for k, v := range req.query {
			params[k] = v
		}
		params["timestamp"] = strconv.FormatInt(c.opt.Now().Unix(), 10)
		query.Set("timestamp", params["timestamp"])
		query.Set("sign", Sign(req.path, params, req.body, c.opt.AppSecret))
	}
	actx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, req.base+req.path+"?"+query.Encode(), body)
	if err != nil {
		return envelope{}, fmt.Errorf("tiktok: building the request to %s: %w", req.path, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.accessToken != "" {
		hreq.Header.Set("x-tts-access-token", req.accessToken)
	}

	start := time.Now()
	resp, err := c.opt.HTTPClient.Do(hreq)
	if err != nil {
		return envelope{}, c.transportError(ctx, req, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return envelope{}, c.transportError(ctx, req, err)
	}
	env, err := readAnswer(req.path, resp.StatusCode, data)
	c.log.DebugContext(ctx, "tiktok: request", "method", req.method, "path", req.path, "attempt", attempt,
		"status", resp.StatusCode, "code", env.Code, "request_id", env.RequestID, "duration", time.Since(start))
	return env, err
}

// transportError strips the URL (its query holds the sign or, for the token
// endpoints, the app secret) from a failed request's error.
func (c *Client) transportError(ctx context.Context, req call, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if ctx.Err() != nil {
		// The caller's context ended, not the attempt's timeout.
		return fmt.Errorf("tiktok: %s %s: %w", req.method, req.path, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s (tiktok.request_timeout)", c.opt.RequestTimeout)
	}
	return &TransportError{Method: req.method, Path: req.path, Err: err}
}

// readAnswer reads an answer's envelope and turns an error status or a
// nonzero code into an *APIError.
func readAnswer(path string, status int, data []byte) (envelope, error) {
	if len(data) > maxAnswerBytes {
		return envelope{}, &APIError{Status: status, Path: path, Message: fmt.Sprintf("answer larger than %d bytes", maxAnswerBytes)}
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		msg := "the answer is not the API's JSON envelope"
		if status == http.StatusOK {
			msg += ": " + err.Error()
		}
		return envelope{}, &APIError{Status: status, Path: path, Message: msg}
	}
	if env.Code != CodeOK || status != http.StatusOK {
		return env, &APIError{Status: status, Code: env.Code, Message: env.Message, RequestID: env.RequestID, Path: path}
	}
	return env, nil
}
