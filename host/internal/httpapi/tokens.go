package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
)

type tokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

type tokenJSON struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Scopes  []string       `json:"scopes"`
	Created shop.Timestamp `json:"created"`
	// Token is the secret, shown once, when the token is created.
	Token string `json:"token,omitempty"`
}

func tokenOf(t shop.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: shop.Timestamp(t.Created)}
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

// tokenList is a page of GET /v1/tokens.
type tokenList struct {
	Tokens []tokenJSON `json:"tokens"`
	Next   string      `json:"next,omitempty"`
}

func (h *Handler) listTokens(c *gin.Context) {
	var probs []compute.FieldError
	q := readPage(c, "tokens", shop.DefaultPageSize, shop.MaxPageSize, 2, &probs)
	var after shop.TokenKey
	if q.key != nil {
		// The key is the creation time in microseconds, and the id.
		us, err := strconv.ParseInt(q.key[0], 10, 64)
		if err != nil || q.key[1] == "" {
			probs = append(probs, compute.FieldError{Field: "cursor", Detail: "does not hold a token's place: send the next of the previous answer unchanged"})
		}
		after = shop.TokenKey{Created: time.UnixMicro(us).UTC(), ID: q.key[1]}
	}
	if malformedQuery(c, probs) {
		return
	}
	list, more, err := h.svc.TokenPage(c.Request.Context(), principal(c), after, q.limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := tokenList{Tokens: make([]tokenJSON, len(list))}
	for i, t := range list {
		out.Tokens[i] = tokenOf(t)
	}
	if more {
		last := list[len(list)-1]
		out.Next = encodeCursor("tokens", strconv.FormatInt(last.Created.UnixMicro(), 10), last.ID)
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) deleteToken(c *gin.Context) {
	if err := h.svc.RevokeToken(c.Request.Context(), principal(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
