package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/store"
)

const principalKey = "syncrules.principal"

// authenticate resolves the bearer token to a principal, or answers 401.
// Every route behind it needs a valid token; which scope is each route's.
func (h *Handler) authenticate(c *gin.Context) {
	token, ok := auth.ParseBearer(c.GetHeader("Authorization"))
	if !ok {
		h.unauthorized(c, "Send Authorization: Bearer <token>. An admin creates tokens with \"syncrules token create --scope ...\" or POST /v1/tokens.")
		return
	}
	if auth.MatchEnvToken(token, h.opt.AdminToken) {
		c.Set(principalKey, auth.EnvPrincipal())
		c.Next()
		return
	}
	hash := auth.HashToken(token)
	t, err := h.opt.Store.TokenByHash(c.Request.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.unauthorized(c, "The bearer token is not valid: it is unknown or was revoked.")
		return
	case err != nil:
		h.fail(c, fmt.Errorf("looking up a token: %w", err))
		return
	}
	p := auth.Principal{TokenID: t.ID}
	for _, s := range t.Scopes {
		sc, err := auth.ParseScope(s)
		if err != nil {
			h.fail(c, fmt.Errorf("token %s has a stored scope that does not parse: %w", t.ID, err))
			return
		}
		p.Scopes = append(p.Scopes, sc)
	}
	c.Set(principalKey, p)
	c.Next()
}

func (h *Handler) unauthorized(c *gin.Context, detail string) {
	c.Header("WWW-Authenticate", `Bearer realm="syncrules"`)
	writeProblem(c, problem.New(http.StatusUnauthorized, detail))
}

func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(auth.Principal)
	return pr
}

// requireAdmin lets only admin tokens through.
func requireAdmin(c *gin.Context) {
	if !principal(c).Admin() {
		writeProblem(c, problem.New(http.StatusForbidden, "This needs a token with the admin scope."))
		return
	}
	c.Next()
}

// requireShop lets admin tokens and the shop's own token through. A token
// of another shop gets the 404 a missing shop gets, so a shop cannot learn
// which other shops exist.
func (h *Handler) requireShop(c *gin.Context) {
	id := c.Param("shop")
	switch principal(c).ShopAccess(id) {
	case auth.Allowed:
		c.Next()
	case auth.Hidden:
		writeProblem(c, shopNotFound(id))
	default:
		writeProblem(c, problem.New(http.StatusForbidden, fmt.Sprintf("This needs a token with the admin or shop:%s scope.", id)))
	}
}

func shopNotFound(id string) problem.Problem {
	return problem.New(http.StatusNotFound, fmt.Sprintf("No shop %q.", id))
}
