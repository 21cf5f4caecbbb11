package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// pauseSync stops a shop's publications: 200 with the shop's sync status.
func (h *Handler) pauseSync(c *gin.Context) {
	st, err := h.svc.PauseSync(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// resumeSync resumes them: 200 with the shop's sync status.
func (h *Handler) resumeSync(c *gin.Context) {
	st, err := h.svc.ResumeSync(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// resync starts republishing a shop: 202 with the run, whose progress
// GET .../sync shows.
func (h *Handler) resync(c *gin.Context) {
	run, err := h.svc.Resync(c.Request.Context(), principal(c), c.Param("shop"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", strings.TrimSuffix(c.Request.URL.Path, "/resync"))
	c.JSON(http.StatusAccepted, run)
}
