package compute

import (
	"io"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncrules/syncrules/sdk/abi"
)

// Response is the body of a successful compute.
type Response struct {
	Items    []ItemResult `json:"items"`
	Warnings []Warning    `json:"warnings"`
	// Logs are what each plugin wrote to stdout and stderr, when
	// explaining.
	Logs []RuleLog `json:"logs,omitempty"`
	// Modules are the modules that ran, in order: the default rule, then
	// each plugin version of settings.rules. Not part of the API's body:
	// the sync records them with its history.
	Modules []ModuleRun `json:"-"`
}

// ModuleRun names a module that ran: Name is DefaultRuleName for the
// default rule, whose Version is empty.
type ModuleRun struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
}

// ItemResult is one item's result, in request order.
type ItemResult struct {
	ID string `json:"id"`
	// Quantities has every active warehouse, unless the item failed.
	Quantities Quantities `json:"quantities,omitzero"`
	Error      *ItemError `json:"error,omitempty"`
	Trace      []Stage    `json:"trace,omitempty"`
}

// ItemError says why an item has no quantities.
type ItemError struct {
	Rule   string `json:"rule"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Warning reports settings that publish less than they seem to.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Quantities maps warehouse ids to quantities, in the request's warehouse
// order. It encodes as a JSON object.
type Quantities struct {
	names  []string
	values []int32
	set    bool // a failed item has none; a shop with no active warehouse has {}
}

// IsZero reports whether q was never set, as for a failed item.
func (q Quantities) IsZero() bool { return !q.set }

// Get returns the quantity for a warehouse id.
func (q Quantities) Get(warehouse string) (int32, bool) {
	for i, n := range q.names {
		if n == warehouse {
			return q.values[i], true
		}
	}
	return 0, false
}

// All returns the warehouses and quantities in order.
func (q Quantities) All() func(yield func(string, int32) bool) {
	return func(yield func(string, int32) bool) {
		for i, n := range q.names {
			if !yield(n, q.values[i]) {
				return
			}
		}
	}
}

// MarshalJSONTo writes q as an object.
func (q Quantities) MarshalJSONTo(e *jsontext.Encoder) error {
	if err := e.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for i, n := range q.names {
		if err := e.WriteToken(jsontext.String(n)); err != nil {
			return err
		}
		if err := e.WriteToken(jsontext.Int(int64(q.values[i]))); err != nil {
			return err
		}
	}
	return e.WriteToken(jsontext.EndObject)
}

// Stage is one rule's part in an item's result: the quantities it produced
// and what it said about them.
type Stage struct {
	Stage      string         `json:"stage"`
	Quantities Quantities     `json:"quantities,omitzero"`
	Warehouses WarehouseNotes `json:"warehouses,omitzero"`
	Item       Attrs          `json:"item,omitempty"`
	// Error is why the stage failed the item; with Skipped, the item kept
	// its quantities from before the stage.
	Error   *ItemError `json:"error,omitempty"`
	Skipped bool       `json:"skipped,omitzero"`
	// NotesTruncated says that a plugin wrote more notes about the item
	// than the server keeps, and the rest were dropped.
	NotesTruncated bool `json:"notes_truncated,omitzero"`

	notes, noteBytes int // kept so far, against the bounds of one item
}

// WarehouseNotes are a stage's notes per warehouse, in warehouse order.
type WarehouseNotes struct {
	names []string
	cols  []int
	attrs []Attrs
}

// IsZero reports whether there are no notes.
func (n WarehouseNotes) IsZero() bool { return len(n.cols) == 0 }

// Get returns the notes about a warehouse.
func (n WarehouseNotes) Get(warehouse string) Attrs {
	for k, c := range n.cols {
		if n.names[c] == warehouse {
			return n.attrs[k]
		}
	}
	return nil
}

func (n *WarehouseNotes) add(names []string, col int, attrs []abi.Attr) {
	n.names = names
	for k, c := range n.cols {
		if c == col {
			n.attrs[k] = mergeAttrs(n.attrs[k], attrs)
			return
		}
	}
	at := len(n.cols)
	for at > 0 && n.cols[at-1] > col {
		at--
	}
	n.cols = append(n.cols[:at], append([]int{col}, n.cols[at:]...)...)
	n.attrs = append(n.attrs[:at], append([]Attrs{mergeAttrs(nil, attrs)}, n.attrs[at:]...)...)
}

// MarshalJSONTo writes the notes as an object keyed by warehouse id.
func (n WarehouseNotes) MarshalJSONTo(e *jsontext.Encoder) error {
	if err := e.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for k, c := range n.cols {
		if err := e.WriteToken(jsontext.String(n.names[c])); err != nil {
			return err
		}
		if err := n.attrs[k].MarshalJSONTo(e); err != nil {
			return err
		}
	}
	return e.WriteToken(jsontext.EndObject)
}

// Attrs are a rule's explanation attributes. They encode as a JSON object
// in their order; a later attribute replaces an earlier one of the same key.
type Attrs []abi.Attr

// Get returns the attribute with the given key.
func (as Attrs) Get(key string) (abi.Attr, bool) {
	for _, a := range as {
		if a.Key == key {
			return a, true
		}
	}
	return abi.Attr{}, false
}

// mergeAttrs appends src to dst, replacing attributes of the same key, so
// that the object a rule's notes become has unique names.
func mergeAttrs(dst Attrs, src []abi.Attr) Attrs {
	for _, a := range src {
		if a.Kind == abi.KindGroup {
			a.Group = mergeAttrs(nil, a.Group)
		}
		replaced := false
		for i := range dst {
			if dst[i].Key == a.Key {
				dst[i], replaced = a, true
				break
			}
		}
		if !replaced {
			dst = append(dst, a)
		}
	}
	return dst
}

// MarshalJSONTo writes the attributes as an object.
func (as Attrs) MarshalJSONTo(e *jsontext.Encoder) error {
	if err := e.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for _, a := range as {
		if err := e.WriteToken(jsontext.String(a.Key)); err != nil {
			return err
		}
		if err := writeAttrValue(e, a); err != nil {
			return err
		}
	}
	return e.WriteToken(jsontext.EndObject)
}

func writeAttrValue(e *jsontext.Encoder, a abi.Attr) error {
	switch a.Kind {
	case abi.KindBool:
		return e.WriteToken(jsontext.Bool(a.Bool))
	case abi.KindInt64:
		return e.WriteToken(jsontext.Int(a.Int64))
	case abi.KindUint64:
		return e.WriteToken(jsontext.Uint(a.Uint64))
	case abi.KindFloat64:
		if math.IsNaN(a.Float64) || math.IsInf(a.Float64, 0) {
			return e.WriteToken(jsontext.String(strconv.FormatFloat(a.Float64, 'g', -1, 64)))
		}
		return e.WriteToken(jsontext.Float(a.Float64))
	case abi.KindGroup:
		return Attrs(a.Group).MarshalJSONTo(e)
	default:
		return e.WriteToken(jsontext.String(a.String))
	}
}

// WriteResponse encodes resp as JSON to w.
func WriteResponse(w io.Writer, resp *Response) error {
	return json.MarshalWrite(w, resp)
}
