package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/store"
)

// credentialGroups are the credentials a shop may store, by group, in the
// order they are shown.
var credentialGroups = []struct {
	name   string
	fields []string
}{
	{"shopify", []string{"access_token", "webhook_secret"}},
	{"tiktok", []string{"app_key", "app_secret", "access_token", "shop_cipher"}},
}

// credentialsRequest is the body of PUT /v1/shops/{shop}/credentials. A
// group given replaces every credential of that group.
type credentialsRequest struct {
	Shopify *struct {
		AccessToken   *string `json:"access_token"`
		WebhookSecret *string `json:"webhook_secret"`
	} `json:"shopify"`
	TikTok *struct {
		AppKey      *string `json:"app_key"`
		AppSecret   *string `json:"app_secret"`
		AccessToken *string `json:"access_token"`
		ShopCipher  *string `json:"shop_cipher"`
	} `json:"tiktok"`
}

// groups lists the given groups with their given fields, in the order of
// credentialGroups.
func (r *credentialsRequest) groups() map[string][]*string {
	out := map[string][]*string{}
	if s := r.Shopify; s != nil {
		out["shopify"] = []*string{s.AccessToken, s.WebhookSecret}
	}
	if t := r.TikTok; t != nil {
		out["tiktok"] = []*string{t.AppKey, t.AppSecret, t.AccessToken, t.ShopCipher}
	}
	return out
}

// credentialAAD binds a sealed value to its shop and name, so a value
// copied to another row does not open.
func credentialAAD(shop, group, name string) []byte {
	return []byte(shop + "\x00" + group + "\x00" + name)
}

// A credential's value is never echoed, logged or returned: errors name
// the field, never what was in it.
func (h *Handler) putCredentials(c *gin.Context) {
	id := c.Param("shop")
	var req credentialsRequest
	if !h.readJSON(c, &req, `a JSON object with "shopify" and/or "tiktok" credentials`) {
		return
	}
	given := req.groups()
	var probs []compute.FieldError
	if len(given) == 0 {
		probs = append(probs, compute.FieldError{Detail: `send "shopify", "tiktok" or both`})
	}
	for _, g := range credentialGroups {
		for i, v := range given[g.name] {
			if v != nil && *v == "" {
				probs = append(probs, compute.FieldError{Field: "/" + g.name + "/" + g.fields[i],
					Detail: "must not be empty; leave the field out to remove it"})
			}
			if v != nil && len(*v) > 4096 {
				probs = append(probs, compute.FieldError{Field: "/" + g.name + "/" + g.fields[i],
					Detail: fmt.Sprintf("may have at most 4096 bytes, got %d", len(*v))})
			}
		}
	}
	if len(probs) > 0 {
		h.fail(c, &compute.InputError{Kind: compute.Invalid, Errors: probs})
		return
	}
	replace := map[string][]store.Credential{}
	for _, g := range credentialGroups {
		values, ok := given[g.name]
		if !ok {
			continue
		}
		creds := []store.Credential{}
		for i, v := range values {
			if v == nil {
				continue
			}
			sealed, err := h.opt.Sealer.Seal([]byte(*v), credentialAAD(id, g.name, g.fields[i]))
			if err != nil {
				h.fail(c, fmt.Errorf("sealing a credential: %w", err))
				return
			}
			creds = append(creds, store.Credential{Group: g.name, Name: g.fields[i], Sealed: sealed})
		}
		replace[g.name] = creds
	}
	err := h.opt.Store.ReplaceCredentials(c.Request.Context(), id, replace)
	if err != nil {
		h.fail(c, err)
		return
	}
	for group, creds := range replace {
		h.opt.Logger.Info("credentials replaced", "shop", id, "group", group, "fields", len(creds), "token", principal(c).TokenID)
	}
	h.writeCredentials(c, id)
}

func (h *Handler) getCredentials(c *gin.Context) { h.writeCredentials(c, c.Param("shop")) }

// credentialState says whether a credential is set, never what it is.
type credentialState struct {
	Set     bool       `json:"set"`
	Updated *time.Time `json:"updated,omitempty"`
}

func (h *Handler) writeCredentials(c *gin.Context, id string) {
	creds, err := h.opt.Store.Credentials(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := map[string]map[string]credentialState{}
	for _, g := range credentialGroups {
		out[g.name] = map[string]credentialState{}
		for _, f := range g.fields {
			out[g.name][f] = credentialState{}
		}
	}
	for _, cr := range creds {
		if fields, ok := out[cr.Group]; ok {
			t := cr.Updated
			fields[cr.Name] = credentialState{Set: true, Updated: &t}
		}
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) deleteCredentials(c *gin.Context) {
	id := c.Param("shop")
	if err := h.opt.Store.DeleteCredentials(c.Request.Context(), id); err != nil {
		h.fail(c, err)
		return
	}
	h.opt.Logger.Info("credentials deleted", "shop", id, "token", principal(c).TokenID)
	c.Status(http.StatusNoContent)
}
