package httpapi

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// sessionCookie holds the page's session id. The page never reads it
// (HttpOnly); it sends the CSRF token it was given in X-CSRF-Token.
const (
	sessionCookie = "syncrules_session"
	csrfHeader    = "X-CSRF-Token"
	sessionKey    = "syncrules.session"
)

type signInRequest struct {
	Token string `json:"token"`
}

// sessionJSON answers POST and GET /v1/session: who the caller is and
// what it may see. CSRF and Expires only for a session.
type sessionJSON struct {
	Principal string   `json:"principal"`
	Admin     bool     `json:"admin"`
	Scopes    []string `json:"scopes"`
	// Shops are the shops of the principal's shop scopes; an admin sees
	// every shop (GET /v1/shops) and gets none here.
	Shops   []string        `json:"shops"`
	CSRF    string          `json:"csrf_token,omitempty"`
	Expires *shop.Timestamp `json:"expires,omitempty"`
}

func sessionOf(p auth.Principal) sessionJSON {
	out := sessionJSON{Principal: p.TokenID, Admin: p.Admin(), Scopes: []string{}, Shops: []string{}}
	for _, s := range p.Scopes {
		out.Scopes = append(out.Scopes, s.String())
		if s.Kind == auth.KindShop {
			out.Shops = append(out.Shops, s.Name)
		}
	}
	return out
}

// signIn trades a token for a session cookie. The token comes in the body
// only (never a URL), and is neither logged nor stored.
func (h *Handler) signIn(c *gin.Context) {
	// Only JSON: a form on another site can post text/plain or a form
	// encoding without asking, but not application/json, so no other site
	// can sign a browser in with its own token.
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(c, problem.New(http.StatusUnsupportedMediaType,
			fmt.Sprintf(`Send {"token": "..."} with Content-Type: application/json (got %q).`, c.GetHeader("Content-Type"))))
		return
	}
	var req signInRequest
	if !h.readJSON(c, &req, `a JSON object with "token"`) {
		return
	}
	sess, err := h.svc.SignIn(c.Request.Context(), req.Token)
	if err != nil {
		h.fail(c, err)
		return
	}
	// A session the browser had is replaced: end it rather than leave it
	// to its expiry.
	if old, err := c.Cookie(sessionCookie); err == nil && old != "" {
		if err := h.svc.SignOut(c.Request.Context(), old); err != nil {
			h.opt.Logger.Warn("ending the session a sign-in replaces", "err", err)
		}
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: sess.ID, Path: "/",
		MaxAge: int(time.Until(sess.Expires).Seconds()), Expires: sess.Expires,
		HttpOnly: true, Secure: secureCookie(c.Request), SameSite: http.SameSiteStrictMode,
	})
	out := sessionOf(sess.Principal)
	out.CSRF = sess.CSRF
	exp := shop.Timestamp(sess.Expires)
	out.Expires = &exp
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

// getSession says who the caller is; with the session cookie, also the
// session's CSRF token, so a reloaded page can find it again without
// keeping it anywhere.
func (h *Handler) getSession(c *gin.Context) {
	out := sessionOf(principal(c))
	if id, ok := c.Get(sessionKey); ok {
		out.CSRF = shop.CSRFToken(id.(string))
		exp, _ := c.Get(sessionExpiresKey)
		t := shop.Timestamp(exp.(time.Time))
		out.Expires = &t
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// signOut ends the cookie's session and clears the cookie. Without a
// session (a bearer token) there is nothing to end: 204 all the same.
func (h *Handler) signOut(c *gin.Context) {
	if id, ok := c.Get(sessionKey); ok {
		if err := h.svc.SignOut(c.Request.Context(), id.(string)); err != nil {
			h.fail(c, err)
			return
		}
	}
	clearSessionCookie(c)
	c.Status(http.StatusNoContent)
}

const sessionExpiresKey = "syncrules.session.expires"

// authenticateSession authenticates with the session cookie: the
// session's principal, and for a change (any method but GET, HEAD and
// OPTIONS) the session's CSRF token in X-CSRF-Token, which another site
// cannot read or send.
func (h *Handler) authenticateSession(c *gin.Context, id string) {
	p, expires, err := h.svc.SessionPrincipal(c.Request.Context(), id)
	if err != nil {
		if shop.CodeOf(err) == shop.Unauthorized {
			clearSessionCookie(c)
		}
		h.fail(c, err)
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if err := shop.CheckCSRF(id, c.GetHeader(csrfHeader)); err != nil {
			h.fail(c, err)
			return
		}
	}
	c.Set(principalKey, p)
	c.Set(sessionKey, id)
	c.Set(sessionExpiresKey, expires)
	c.Next()
}

func clearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureCookie(c.Request), SameSite: http.SameSiteStrictMode})
}

// secureCookie says whether the session cookie gets Secure: always, but
// for a plain-HTTP request from this machine to a loopback name (make run
// on a laptop), which no proxy forwarded. A browser would refuse a Secure
// cookie from http://127.0.0.1. Behind a TLS proxy the request comes in
// plain HTTP too, but with X-Forwarded-Proto or the public Host: Secure.
func secureCookie(r *http.Request) bool {
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") != "" || r.Header.Get("Forwarded") != "" {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopback(host) {
		return true
	}
	name := r.Host
	if hn, _, err := net.SplitHostPort(name); err == nil {
		name = hn
	}
	return !(isLoopback(name) || strings.EqualFold(name, "localhost"))
}

func isLoopback(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// securityHeaders go on every answer, the page's and the API's: the page
// runs only its own script and style, in no frame, and sends no referrer.
func securityHeaders(c *gin.Context) {
	setSecurityHeaders(c.Writer.Header())
	c.Next()
}

// setSecurityHeaders sets the headers of securityHeaders, for the answers
// served outside Gin too (a starting server's).
func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}
