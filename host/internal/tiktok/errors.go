package tiktok

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Codes of the Open API's envelope that the client acts on.
const (
	CodeOK               = 0
	CodeExpiredToken     = 105002   // the access token has expired: refresh it
	CodeBadSign          = 106001   // the sign does not match the request
	CodeTooManyRequests  = 36009002 // rate limited (also HTTP 429)
	CodeInternal         = 36009003 // TikTok's own failure: try again
	CodeBadTimestamp     = 36009004 // timestamp more than 5 min old or 30 s ahead
	CodeOtherProduct     = 12052557 // an update listed a SKU of another product
	CodeMissingWarehouse = 12019028 // an update left out a warehouse of a SKU
)

// APIError is an answer of the Open API whose code is not 0, or an HTTP
// error status. Status is the HTTP status (200 for most coded errors).
type APIError struct {
	Status    int
	Code      int64
	Message   string
	RequestID string
	// Path is the request's path, without its query (which holds the sign).
	Path string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tiktok: %s: ", e.Path)
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d", e.Code)
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if hint := codeHint(e.Code); hint != "" {
		fmt.Fprintf(&b, " (%s)", hint)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request_id %s]", e.RequestID)
	}
	return b.String()
}

// codeHint says what to do about the codes a user can fix.
func codeHint(code int64) string {
	switch code {
	case CodeBadSign:
		return "the sign did not match: check the shop's app_key and app_secret"
	case CodeBadTimestamp:
		return "the timestamp was refused: check this host's clock"
	case CodeExpiredToken:
		return "the access token has expired"
	}
	return ""
}

// Is lets errors.Is match an APIError against the sentinels below.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrExpiredToken:
		return e.Code == CodeExpiredToken
	case ErrRateLimited:
		return e.Code == CodeTooManyRequests || e.Status == 429
	case ErrBadTimestamp:
		return e.Code == CodeBadTimestamp
	case ErrBadSign:
		return e.Code == CodeBadSign
	case ErrInternal:
		return e.Code == CodeInternal
	}
	return false
}

// Sentinels for errors.Is. An *APIError matches the one of its code.
var (
	ErrExpiredToken = errors.New("tiktok: access token expired")
	ErrRateLimited  = errors.New("tiktok: rate limited")
	ErrBadTimestamp = errors.New("tiktok: timestamp refused")
	ErrBadSign      = errors.New("tiktok: bad sign")
	ErrInternal     = errors.New("tiktok: internal error")
	// ErrReauthorize: the shop's refresh token is expired or refused, so no
	// call can succeed until the seller authorises the app again. Retrying
	// does not help.
	ErrReauthorize = errors.New("tiktok: the shop must authorise the app again (its refresh token is expired or refused)")
)

// transient says whether an API error may go away if the same request is
// sent again: rate limits, TikTok's internal errors and 5xx statuses.
func (e *APIError) transient() bool {
	return e.Code == CodeTooManyRequests || e.Code == CodeInternal ||
		e.Status == 429 || e.Status >= 500
}

// TransportError is a request that got no answer: the connection failed or
// the attempt timed out. It never carries the URL, whose query holds the
// sign (and, for the token endpoints, the app secret and refresh token).
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("tiktok: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsTransient says whether err may go away if the request is sent again
// later: a rate limit, an internal error or 5xx of TikTok, a failed
// connection or a timed-out attempt. The client has already retried such
// errors as long as the context allowed; a caller may schedule the work
// again. Everything else — a bad sign, a refused timestamp, per-SKU errors,
// ErrReauthorize, a cancelled context — is permanent: sending the same
// request again gives the same answer.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, ErrReauthorize) || errors.Is(err, context.Canceled) {
		return false
	}
	var api *APIError
	if errors.As(err, &api) {
		return api.transient()
	}
	var tr *TransportError
	return errors.As(err, &tr)
}

// SKUError is one SKU an inventory update did not apply. The update's
// other SKUs were applied.
type SKUError struct {
	SKUID   string
	Code    int64
	Message string
	// Warehouses are the per-warehouse causes, when TikTok gives them.
	Warehouses []WarehouseError
}

// WarehouseError is the cause of a SKUError at one warehouse.
type WarehouseError struct {
	WarehouseID string
	Code        int64
	Message     string
}

func (e SKUError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sku %s: code %d: %s", e.SKUID, e.Code, e.Message)
	for _, w := range e.Warehouses {
		fmt.Fprintf(&b, "; warehouse %s: code %d: %s", w.WarehouseID, w.Code, w.Message)
	}
	return b.String()
}

// UpdateFailures is the error of an inventory update that TikTok accepted
// (code 0) but applied only in part: SKUs lists the SKUs it did not apply.
// It is permanent: the same request fails the same way.
type UpdateFailures struct {
	ProductID string
	RequestID string
	SKUs      []SKUError
}

func (e *UpdateFailures) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tiktok: inventory update of product %s: %d SKU(s) not updated", e.ProductID, len(e.SKUs))
	for _, s := range e.SKUs {
		b.WriteString("; ")
		b.WriteString(s.Error())
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request_id %s]", e.RequestID)
	}
	return b.String()
}

// InvalidUpdateError is an inventory update the client refused to send:
// it would mix products, leave out a warehouse of a SKU, or carry a
// quantity TikTok refuses.
type InvalidUpdateError struct {
	ProductID string
	Reason    string
}

func (e *InvalidUpdateError) Error() string {
	return "tiktok: inventory update of product " + strconv.Quote(e.ProductID) + " not sent: " + e.Reason
}
