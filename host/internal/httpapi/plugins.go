package httpapi

import (
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// pluginJSON is a plugin version as the API shows it.
type pluginJSON struct {
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	SHA256     string         `json:"sha256"`
	Size       int            `json:"size"`
	ABIVersion uint32         `json:"abi_version"`
	CompileMS  float64        `json:"compile_ms"`
	Created    shop.Timestamp `json:"created"`
	Source     string         `json:"source"`
	OwnedBy    string         `json:"owned_by"`
	Owner      string         `json:"owner,omitempty"`
}

func pluginOf(in shop.PluginInfo) pluginJSON {
	return pluginJSON{Name: in.Name, Version: in.Version, SHA256: in.SHA256, Size: in.Size, ABIVersion: in.ABIVersion,
		CompileMS: float64(in.CompileTime.Microseconds()) / 1000, Created: shop.Timestamp(in.Created), Source: in.Source,
		OwnedBy: in.OwnedBy, Owner: in.Owner}
}

type pluginVersions struct {
	Name     string       `json:"name"`
	OwnedBy  string       `json:"owned_by"`
	Owner    string       `json:"owner,omitempty"`
	Versions []pluginJSON `json:"versions"`
}

func pluginVersionsOf(p shop.Plugin) pluginVersions {
	out := pluginVersions{Name: p.Name, OwnedBy: p.OwnedBy, Owner: p.Owner, Versions: make([]pluginJSON, len(p.Versions))}
	for i, in := range p.Versions {
		out.Versions[i] = pluginOf(in)
	}
	return out
}

// pluginList is a page of GET /v1/plugins.
type pluginList struct {
	Plugins []pluginVersions `json:"plugins"`
	Next    string           `json:"next,omitempty"`
}

// WasmContentType is the media type of an upload.
const WasmContentType = "application/wasm"

func (h *Handler) putPlugin(c *gin.Context) {
	name, version := c.Param("name"), c.Param("version")
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != WasmContentType {
		writeProblem(c, problem.New(http.StatusUnsupportedMediaType,
			fmt.Sprintf("Send the module as the body with Content-Type: %s (got %q).", WasmContentType, c.GetHeader("Content-Type"))))
		return
	}
	if err := shop.CheckPluginName(name, version); err != nil {
		h.fail(c, err)
		return
	}
	// Who may upload is answered before the body is read.
	if err := h.svc.AuthorizePlugin(c.Request.Context(), principal(c), name); err != nil {
		h.fail(c, err)
		return
	}
	limit := int64(h.opt.MaxModuleBytes)
	if c.Request.ContentLength > limit {
		h.fail(c, registry.TooLarge(c.Request.ContentLength, limit))
		return
	}
	wasm, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		h.fail(c, readFailure(err))
		return
	}
	if int64(len(wasm)) > limit {
		h.fail(c, registry.TooLarge(-1, limit))
		return
	}
	info, created, err := h.svc.UploadPlugin(c.Request.Context(), principal(c), name, version, wasm)
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", c.Request.URL.Path)
	}
	c.JSON(status, pluginOf(shop.PluginSeenBy(principal(c), info)))
}

func (h *Handler) listPlugins(c *gin.Context) {
	var probs []compute.FieldError
	query := shop.PluginQuery{}
	list := "plugins"
	if v, ok := c.GetQuery("owner"); ok {
		if v != "me" {
			probs = append(probs, compute.FieldError{Field: "owner", Detail: fmt.Sprintf("must be me (the plugins of the partners this token acts for), got %q", v)})
		}
		query.Mine, list = true, "plugins?owner=me"
	}
	q := readPage(c, list, shop.DefaultPageSize, shop.MaxPageSize, 1, &probs)
	if malformedQuery(c, probs) {
		return
	}
	query.Limit = q.limit
	if q.key != nil {
		query.After = q.key[0]
	}
	plugins, more, err := h.svc.PluginPage(c.Request.Context(), principal(c), query)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := pluginList{Plugins: make([]pluginVersions, len(plugins))}
	for i, p := range plugins {
		out.Plugins[i] = pluginVersionsOf(p)
	}
	if more {
		out.Next = encodeCursor(list, plugins[len(plugins)-1].Name)
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) getPlugin(c *gin.Context) {
	p, err := h.svc.PluginVersions(c.Request.Context(), principal(c), c.Param("name"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pluginVersionsOf(p))
}

func (h *Handler) getPluginVersion(c *gin.Context) {
	info, err := h.svc.PluginVersion(c.Request.Context(), principal(c), c.Param("name"), c.Param("version"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pluginOf(info))
}

func (h *Handler) deletePlugin(c *gin.Context) {
	if err := h.svc.DeletePlugin(c.Request.Context(), principal(c), c.Param("name"), c.Param("version")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
