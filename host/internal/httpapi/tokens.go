package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/store"
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

// MaxScopes bounds the scopes of one token.
const MaxScopes = 100

// CheckScopes parses the scopes of a new token, with the field errors of a
// request under field.
func CheckScopes(field string, scopes []string) ([]string, []compute.FieldError) {
	var probs []compute.FieldError
	if len(scopes) == 0 {
		probs = append(probs, compute.FieldError{Field: field, Detail: "is required: one or more of admin, shop:{id}, partner:{name}"})
	}
	if len(scopes) > MaxScopes {
		probs = append(probs, compute.FieldError{Field: field, Detail: fmt.Sprintf("may have at most %d scopes, got %d", MaxScopes, len(scopes))})
		return nil, probs
	}
	out := make([]string, 0, len(scopes))
	for i, s := range scopes {
		sc, err := auth.ParseScope(s)
		if err != nil {
			probs = append(probs, compute.FieldError{Field: fmt.Sprintf("%s/%d", field, i), Detail: err.Error()})
			continue
		}
		out = append(out, sc.String())
	}
	return out, probs
}

// CheckName checks a name people gave a shop or token: it is shown in
// lists and terminals, so it has no control characters.
func CheckName(field, name string) []compute.FieldError {
	switch {
	case len(name) > 200:
		return []compute.FieldError{{Field: field, Detail: fmt.Sprintf("may have at most 200 bytes, got %d", len(name))}}
	case strings.ContainsFunc(name, unicode.IsControl):
		return []compute.FieldError{{Field: field, Detail: "must not contain control characters"}}
	}
	return nil
}

func (h *Handler) createToken(c *gin.Context) {
	var req tokenRequest
	if !h.readJSON(c, &req, `a JSON object with "scopes"`) {
		return
	}
	scopes, probs := CheckScopes("/scopes", req.Scopes)
	probs = append(probs, CheckName("/name", req.Name)...)
	if len(probs) > 0 {
		h.fail(c, &compute.InputError{Kind: compute.Invalid, Errors: probs})
		return
	}
	secret, t, err := NewToken(req.Name, scopes)
	if err != nil {
		h.fail(c, err)
		return
	}
	if err := h.opt.Store.CreateToken(c.Request.Context(), t); err != nil {
		h.fail(c, err)
		return
	}
	h.opt.Logger.Info("token created", "id", t.ID, "scopes", scopes, "by", principal(c).TokenID)
	c.Header("Location", "/v1/tokens/"+t.ID)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: t.Created, Token: secret})
}

// NewToken makes a token to store and the secret to show once.
func NewToken(name string, scopes []string) (string, store.Token, error) {
	secret, hash, id, err := auth.NewToken()
	if err != nil {
		return "", store.Token{}, err
	}
	return secret, store.Token{ID: id, Name: name, Scopes: scopes, Hash: hash, Created: time.Now().UTC().Truncate(time.Microsecond)}, nil
}

func (h *Handler) listTokens(c *gin.Context) {
	list, err := h.opt.Store.Tokens(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: t.Created}
	}
	c.JSON(http.StatusOK, gin.H{"tokens": out})
}

func (h *Handler) deleteToken(c *gin.Context) {
	id := c.Param("id")
	if id == auth.EnvPrincipal().TokenID {
		writeProblem(c, problem.New(http.StatusConflict, "The env token comes from SYNCRULES_ADMIN_TOKEN: unset it and restart to revoke it."))
		return
	}
	err := h.opt.Store.DeleteToken(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(c, problem.New(http.StatusNotFound, fmt.Sprintf("No token %q.", id)))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.opt.Logger.Info("token revoked", "id", id, "by", principal(c).TokenID)
	c.Status(http.StatusNoContent)
}
