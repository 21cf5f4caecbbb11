package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// webhookTimeout bounds a webhook's work once its body is read: Shopify
// counts an answer after 5 s as a failed delivery, so a store too slow to
// record it answers 503 in time, and Shopify retries.
const webhookTimeout = 4 * time.Second

// webhookRetryAfter is the Retry-After of a 503 to a webhook, in seconds.
// Shopify retries on its own schedule; other senders learn when to.
const webhookRetryAfter = "5"

// webhookChallenge is the WWW-Authenticate of a refused webhook: it is
// authenticated by its signature, not by a bearer token.
const webhookChallenge = `X-Shopify-Hmac-Sha256 realm="shopify-webhooks"`

// webhookAnswer is the body of a 200 to a webhook.
type webhookAnswer struct {
	Status string `json:"status"` // accepted, or duplicate: recorded before
}

// shopifyWebhook receives a Shopify webhook: POST /webhooks/shopify, with
// no bearer token. The headers name the shop and sign the raw body, which
// is read whole (up to shop.MaxWebhookBytes) before anything is checked.
//
// 200 {"status":"accepted"} once recorded, {"status":"duplicate"} for a
// webhook id recorded before; 401 when the signature does not verify, the
// same for an unknown shop; 400 when it verifies but has no webhook id or
// topic; 413 over the size bound; 503 with Retry-After when it could not be
// recorded (Shopify retries).
func (h *Handler) shopifyWebhook(c *gin.Context) {
	if c.Request.ContentLength > shop.MaxWebhookBytes {
		h.webhookTooLarge(c)
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, shop.MaxWebhookBytes+1))
	if err != nil {
		h.fail(c, readFailure(err))
		return
	}
	if len(body) > shop.MaxWebhookBytes {
		h.webhookTooLarge(c)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), webhookTimeout)
	defer cancel()
	hd := c.Request.Header
	res, err := h.svc.ReceiveWebhook(ctx, shop.ShopifyWebhook{
		ShopDomain:  hd.Get("X-Shopify-Shop-Domain"),
		Topic:       hd.Get("X-Shopify-Topic"),
		WebhookID:   hd.Get("X-Shopify-Webhook-Id"),
		HMAC:        hd.Get("X-Shopify-Hmac-Sha256"),
		TriggeredAt: hd.Get("X-Shopify-Triggered-At"),
		Body:        body,
	})
	var e *shop.Error
	switch {
	case err == nil:
	case errors.As(err, &e) && e.Code == shop.Unauthorized:
		writeWebhookRefused(c, problem.From(err))
		return
	case errors.As(err, &e) && e.Code == shop.Invalid:
		// A verified delivery without the headers it needs: malformed.
		writeProblem(c, problem.New(http.StatusBadRequest, e.Message))
		return
	case errors.As(err, &e) && e.Code == shop.Unavailable:
		c.Header("Retry-After", webhookRetryAfter)
		if e.Err != nil {
			h.opt.Logger.Warn("webhook not recorded", "topic", hd.Get("X-Shopify-Topic"), "webhook_id", hd.Get("X-Shopify-Webhook-Id"), "err", e.Err)
		}
		writeProblem(c, problem.From(err))
		return
	default:
		h.fail(c, err)
		return
	}
	status := "accepted"
	if res.Duplicate {
		status = "duplicate"
	}
	c.JSON(http.StatusOK, webhookAnswer{Status: status})
}

func (h *Handler) webhookTooLarge(c *gin.Context) {
	writeProblem(c, problem.New(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("A webhook's body may have at most %d bytes.", shop.MaxWebhookBytes)))
}

// writeWebhookRefused writes a 401 to a webhook, whose challenge is its
// signature rather than writeProblem's bearer token.
func writeWebhookRefused(c *gin.Context, p problem.Problem) {
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"about:blank","title":"Unauthorized","status":401}`)
	}
	c.Header("WWW-Authenticate", webhookChallenge)
	c.Data(http.StatusUnauthorized, problem.ContentType, b)
	c.Abort()
}
