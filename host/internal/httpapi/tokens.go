package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/shop"
)

type tokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

type tokenJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	// Token is the secret, shown once, when the token is created.
	Token string `json:"token,omitempty"`
}

func tokenOf(t shop.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: t.Created}
}

func (h *Handler) createToken(c *gin.Context) {
	var req tokenRequest
	if !h.readJSON(c, &req, `a JSON object with "scopes"`) {
		return
	}
	t, err := h.svc.CreateToken(c.Request.Context(), principal(c), req.Name, req.Scopes)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := tokenOf(t.Token)
	out.Token = t.Secret
	c.Header("Location", "/v1/tokens/"+t.ID)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

func (h *Handler) listTokens(c *gin.Context) {
	list, err := h.svc.Tokens(c.Request.Context(), principal(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = tokenOf(t)
	}
	c.JSON(http.StatusOK, gin.H{"tokens": out})
}

func (h *Handler) deleteToken(c *gin.Context) {
	if err := h.svc.RevokeToken(c.Request.Context(), principal(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
