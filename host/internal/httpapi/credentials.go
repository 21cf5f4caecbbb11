package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// credentialsRequest is the body of PUT /v1/shops/{shop}/credentials.
type credentialsRequest struct {
	Shopify *struct {
		AccessToken   *string `json:"access_token"`
		WebhookSecret *string `json:"webhook_secret"`
	} `json:"shopify"`
	TikTok *struct {
		AppKey       *string `json:"app_key"`
		AppSecret    *string `json:"app_secret"`
		AccessToken  *string `json:"access_token"`
		RefreshToken *string `json:"refresh_token"`
		ShopCipher   *string `json:"shop_cipher"`
	} `json:"tiktok"`
}

func (r credentialsRequest) credentials() shop.Credentials {
	var c shop.Credentials
	if s := r.Shopify; s != nil {
		c.Shopify = &shop.ShopifyCredentials{AccessToken: s.AccessToken, WebhookSecret: s.WebhookSecret}
	}
	if t := r.TikTok; t != nil {
		c.TikTok = &shop.TikTokCredentials{AppKey: t.AppKey, AppSecret: t.AppSecret, AccessToken: t.AccessToken,
			RefreshToken: t.RefreshToken, ShopCipher: t.ShopCipher}
	}
	return c
}

func (h *Handler) putCredentials(c *gin.Context) {
	var req credentialsRequest
	if !h.readJSON(c, &req, `a JSON object with "shopify" and/or "tiktok" credentials`) {
		return
	}
	status, err := h.svc.PutCredentials(c.Request.Context(), principal(c), c.Param("shop"), req.credentials())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, status)
}

func (h *Handler) getCredentials(c *gin.Context) {
	status, err := h.svc.CredentialStatus(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, status)
}

func (h *Handler) deleteCredentials(c *gin.Context) {
	if err := h.svc.DeleteCredentials(c.Request.Context(), principal(c), c.Param("shop")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
