package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
)

const principalKey = "syncrules.principal"

// authenticate resolves the bearer token, or without one the page's
// session cookie, to a principal, or answers 401. Every route behind it
// needs a valid token; which scope is each route's.
func (h *Handler) authenticate(c *gin.Context) {
	if c.GetHeader("Authorization") == "" {
		if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
			h.authenticateSession(c, id)
			return
		}
	}
	p, err := h.svc.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(auth.Principal)
	return pr
}

// requireAdmin and requireShop answer 403 or 404 before a body is read;
// the operations check the same again.
func requireAdmin(c *gin.Context) { guard(c, shop.CheckAdmin(principal(c))) }

func requireShop(c *gin.Context) { guard(c, shop.CheckShop(principal(c), c.Param("shop"))) }

func guard(c *gin.Context, err error) {
	if err != nil {
		writeProblem(c, problem.From(err))
		return
	}
	c.Next()
}
