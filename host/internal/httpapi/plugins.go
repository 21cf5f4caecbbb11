package httpapi

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// pluginJSON is a plugin version as the API shows it.
type pluginJSON struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	SHA256     string    `json:"sha256"`
	Size       int       `json:"size"`
	ABIVersion uint32    `json:"abi_version"`
	CompileMS  float64   `json:"compile_ms"`
	Created    time.Time `json:"created"`
	Source     string    `json:"source"`
	Owner      string    `json:"owner,omitempty"`
}

func pluginOf(in registry.Info) pluginJSON {
	return pluginJSON{Name: in.Name, Version: in.Version, SHA256: in.SHA256, Size: in.Size, ABIVersion: in.ABIVersion,
		CompileMS: float64(in.CompileTime.Microseconds()) / 1000, Created: in.Created, Source: in.Source, Owner: in.Owner}
}

type pluginVersions struct {
	Name     string       `json:"name"`
	Versions []pluginJSON `json:"versions"`
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
	c.JSON(status, pluginOf(info))
}

func (h *Handler) listPlugins(c *gin.Context) {
	list, err := h.svc.Plugins(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := []pluginVersions{}
	for _, in := range list {
		if len(out) == 0 || out[len(out)-1].Name != in.Name {
			out = append(out, pluginVersions{Name: in.Name, Versions: []pluginJSON{}})
		}
		last := &out[len(out)-1]
		last.Versions = append(last.Versions, pluginOf(in))
	}
	c.JSON(http.StatusOK, gin.H{"plugins": out})
}

func (h *Handler) getPlugin(c *gin.Context) {
	infos, err := h.svc.PluginVersions(c.Request.Context(), c.Param("name"))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := pluginVersions{Name: c.Param("name"), Versions: make([]pluginJSON, len(infos))}
	for i, in := range infos {
		out.Versions[i] = pluginOf(in)
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) getPluginVersion(c *gin.Context) {
	info, err := h.svc.PluginVersion(c.Request.Context(), c.Param("name"), c.Param("version"))
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
