package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
)

// A list answers a page at a time: ?limit= entries at most, and a next
// cursor when more follow, which ?cursor= sends back for the next page.
//
// A cursor is the key of the last entry of its page and the list it
// belongs to, as JSON, then a check sum, in base64url. The check sum makes
// a changed or truncated cursor a 400 rather than a page from somewhere
// else. It is not a signature: a cursor made up by hand only says where a
// page starts, and every page holds only what the caller may see anyway.

// cursorSum is how many bytes of SHA-256 end a cursor.
const cursorSum = 8

type cursorDoc struct {
	List string   `json:"l"`
	Key  []string `json:"k"`
}

func cursorCheck(payload []byte) []byte {
	sum := sha256.Sum256(append([]byte("syncrules cursor\x00"), payload...))
	return sum[:cursorSum]
}

// encodeCursor is the cursor after the entry with key, in list.
func encodeCursor(list string, key ...string) string {
	payload, _ := json.Marshal(cursorDoc{List: list, Key: key})
	return base64.RawURLEncoding.EncodeToString(append(payload, cursorCheck(payload)...))
}

// decodeCursor returns the key a cursor of list holds, of n parts, or a
// detail that says what is wrong with it.
func decodeCursor(s, list string, n int) ([]string, string) {
	const resend = "send the next of the previous answer unchanged, or leave cursor out for the first page"
	if s == "" {
		return nil, "is empty: " + resend
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) <= cursorSum {
		return nil, "is not a cursor this API gave (changed or cut short): " + resend
	}
	payload, sum := b[:len(b)-cursorSum], b[len(b)-cursorSum:]
	var doc cursorDoc
	if !bytes.Equal(sum, cursorCheck(payload)) || json.Unmarshal(payload, &doc) != nil {
		return nil, "is not a cursor this API gave (changed or cut short): " + resend
	}
	if doc.List != list {
		return nil, "belongs to another list (another endpoint, shop or owner filter): " + resend + " of this list"
	}
	// A key this API wrote is text the store keeps: UTF-8 without NUL.
	if len(doc.Key) != n || slices.ContainsFunc(doc.Key, func(k string) bool { return !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 }) {
		return nil, "is not a cursor this API gave (changed or cut short): " + resend
	}
	return doc.Key, ""
}

// pageQuery is a list's ?limit= and ?cursor=.
type pageQuery struct {
	limit int
	key   []string // nil: the first page
}

// readPage reads ?limit= (from 1 to most, def when absent) and ?cursor=
// (a cursor of list, with a key of keyParts), adding what is wrong to
// probs.
func readPage(c *gin.Context, list string, def, most, keyParts int, probs *[]compute.FieldError) pageQuery {
	q := pageQuery{limit: def}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			*probs = append(*probs, compute.FieldError{Field: "limit", Detail: fmt.Sprintf("must be an integer from 1 to %d, got %q", most, v)})
		}
		q.limit = n
	}
	if v, ok := c.GetQuery("cursor"); ok {
		key, bad := decodeCursor(v, list, keyParts)
		if bad != "" {
			*probs = append(*probs, compute.FieldError{Field: "cursor", Detail: bad})
		}
		q.key = key
	}
	return q
}

// malformedQuery answers 400 with what is wrong in the query, if anything.
func malformedQuery(c *gin.Context, probs []compute.FieldError) bool {
	if len(probs) == 0 {
		return false
	}
	writeProblem(c, problem.New(http.StatusBadRequest, "The query is malformed.", probs...))
	return true
}

// notModified answers 304, without a body, when If-None-Match names etag
// or is *; else it sets the ETag of the 200 to come. Tags compare weakly
// (RFC 9110, 13.1.2): W/"3" matches "3".
func notModified(c *gin.Context, etag string) bool {
	c.Header("ETag", etag)
	header := c.GetHeader("If-None-Match")
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			c.Status(http.StatusNotModified)
			return true
		}
	}
	return false
}

// contentETag is a strong ETag for an answer's body.
func contentETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}
