package compute

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncrules/syncrules/sdk/abi"
)

// Request is the body of a compute request.
type Request struct {
	Settings   *Settings   `json:"settings,omitempty"`
	Locations  []Location  `json:"locations"`
	Warehouses []Warehouse `json:"warehouses"`
	Items      []Item      `json:"items"`
}

// Settings are the shop-wide settings; every field is optional.
type Settings struct {
	Percentage  Number    `json:"percentage,omitzero"`
	Mappings    []Mapping `json:"mappings,omitempty"`
	MaxQuantity Number    `json:"max_quantity,omitzero"`
	// Rules are plugins run after the default rule, in order.
	Rules []Rule `json:"rules,omitempty"`
}

// Mapping sends a Shopify location, or "*" for every active location, to a
// TikTok Shop warehouse.
type Mapping struct {
	Location  string `json:"location"`
	Warehouse string `json:"warehouse"`
}

// AllLocations is the mapping source meaning every active location.
const AllLocations = "*"

// Location is a Shopify location. Active defaults to true.
type Location struct {
	ID     string `json:"id"`
	Active Flag   `json:"active,omitzero"`
}

// Warehouse is a TikTok Shop pickup warehouse. Active defaults to true.
type Warehouse struct {
	ID      string `json:"id"`
	Active  Flag   `json:"active,omitzero"`
	Default bool   `json:"default,omitempty"`
}

// Item is a Shopify variant. Tracked defaults to true.
type Item struct {
	ID              string   `json:"id"`
	ProductID       string   `json:"product_id,omitempty"`
	SKU             string   `json:"sku,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	Tracked         Flag     `json:"tracked,omitzero"`
	ContinueSelling bool     `json:"continue_selling,omitempty"`
	Available       Stock    `json:"available,omitzero"`
}

// Stock is an item's available stock by location id, in the order the
// request gives it. It decodes from a JSON object whose values are numbers
// or null; the decoder refuses a location named twice.
type Stock []StockEntry

// StockEntry is one location's available stock.
type StockEntry struct {
	Location string
	Quantity Number
}

// UnmarshalJSONFrom reads an object of location ids to numbers, or null.
func (s *Stock) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	switch k := d.PeekKind(); k {
	case 'n':
		_, err := d.ReadToken()
		*s = nil
		return err
	case '{':
	default:
		if err := d.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: k, Err: errType}
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	*s = (*s)[:0]
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return err
		}
		e := StockEntry{Location: name.String()}
		if err := e.Quantity.UnmarshalJSONFrom(d); err != nil {
			var se *json.SemanticError
			if errors.As(err, &se) && se.JSONPointer == "" {
				// Say where, and what was wanted: the value, not the object.
				se.JSONPointer, se.GoType = d.StackPointer(), numberType
			}
			return err
		}
		*s = append(*s, e)
	}
	_, err := d.ReadToken()
	return err
}

// Flag is a JSON boolean that remembers whether it was given, so that an
// absent flag can default to true.
type Flag struct {
	Set, Value bool
}

// Or returns the flag's value, or def when it was not given.
func (f Flag) Or(def bool) bool {
	if f.Set {
		return f.Value
	}
	return def
}

// MarshalJSONTo writes the flag's value; omitzero leaves out one not given.
func (f Flag) MarshalJSONTo(e *jsontext.Encoder) error {
	if !f.Set {
		return e.WriteToken(jsontext.Null)
	}
	return e.WriteToken(jsontext.Bool(f.Value))
}

// UnmarshalJSONFrom reads true, false or null (not given).
func (f *Flag) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	switch k := d.PeekKind(); k {
	case 'n', 't', 'f':
		tok, err := d.ReadToken()
		if err != nil {
			return err
		}
		*f = Flag{Set: k != 'n', Value: k == 't' && tok.Bool()}
		return nil
	default:
		if err := d.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: k, Err: errType}
	}
}

// Number is a JSON number read exactly, never rounded through float64: a
// plain integer of up to 18 digits is kept as its value, anything else as
// its literal. null and absent are both the zero Number.
type Number struct {
	lit   string // the literal, unless small
	small int64
	kind  uint8
}

const (
	numAbsent = iota
	numSmall
	numLiteral
)

// NumberOf returns the Number with the given literal.
func NumberOf(literal string) Number {
	if v, ok := smallInt(literal); ok {
		return Number{small: v, kind: numSmall}
	}
	return Number{lit: literal, kind: numLiteral}
}

// smallInt reads a literal that is only an optional minus and 1 to 18
// digits, which cannot overflow, without allocating.
func smallInt[T ~string | ~[]byte](lit T) (int64, bool) {
	s, neg := lit, false
	if len(s) > 0 && s[0] == '-' {
		s, neg = s[1:], true
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// IsZero reports whether the number was not given.
func (n Number) IsZero() bool { return n.kind == numAbsent }

// String returns the number's literal.
func (n Number) String() string {
	if n.kind == numSmall {
		return strconv.FormatInt(n.small, 10)
	}
	return n.lit
}

// MarshalJSONTo writes the literal as given, or null when absent.
func (n Number) MarshalJSONTo(e *jsontext.Encoder) error {
	if n.kind == numAbsent {
		return e.WriteToken(jsontext.Null)
	}
	return e.WriteValue(jsontext.Value(n.String()))
}

// Int returns the number as an int64 if it is an integer in range: 100,
// 1e2 and 100.0 all give 100.
func (n Number) Int() (int64, bool) {
	if n.kind == numSmall {
		return n.small, true
	}
	if v, err := strconv.ParseInt(n.lit, 10, 64); err == nil {
		return v, true
	}
	d, ok := parseDecimal(n.lit)
	if !ok {
		return 0, false
	}
	return d.scaledInt(0, math.MaxInt64)
}

// decimal is a number literal read exactly as ±digits × 10^exp, where digits
// has no leading or trailing zeros ("" is zero). Reading one costs the length
// of the literal whatever its exponent: 1e999999 is never expanded.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal reads a JSON number literal.
func parseDecimal(lit string) (decimal, bool) {
	var d decimal
	s := lit
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	end := func(s string) int { return len(s) - len(strings.TrimLeft(s, "0123456789")) }
	i := end(s)
	if i == 0 {
		return d, false
	}
	digits, s := s[:i], s[i:]
	if strings.HasPrefix(s, ".") {
		f := end(s[1:])
		if f == 0 {
			return d, false
		}
		digits += s[1 : 1+f]
		d.exp -= int64(f)
		s = s[1+f:]
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		sign := int64(1)
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			if s[0] == '-' {
				sign = -1
			}
			s = s[1:]
		}
		e := end(s)
		if e == 0 {
			return d, false
		}
		var v int64
		for _, c := range s[:e] {
			v = min(v*10+int64(c-'0'), 1<<40) // far past any value accepted
		}
		d.exp += sign * v
		s = s[e:]
	}
	if s != "" {
		return d, false
	}
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.exp += int64(len(digits) - len(trimmed))
	d.digits = trimmed
	return d, true
}

// scaledInt returns the value times 10^scale if that is an integer within
// [-limit, limit].
func (d decimal) scaledInt(scale, limit int64) (int64, bool) {
	if d.digits == "" {
		return 0, true
	}
	exp := d.exp + scale
	if exp < 0 || int64(len(d.digits))+exp > 19 {
		return 0, false
	}
	v, err := strconv.ParseUint(d.digits+strings.Repeat("0", int(exp)), 10, 64)
	if err != nil || v > uint64(limit)+1 || (!d.neg && v > uint64(limit)) {
		return 0, false
	}
	if d.neg {
		return -int64(v-1) - 1, true
	}
	return int64(v), true
}

// cmpInt compares the value with the integer k >= 0: -1, 0 or 1.
func (d decimal) cmpInt(k int64) int {
	switch {
	case d.digits == "" && k == 0:
		return 0
	case d.digits == "" || d.neg:
		return -1
	case k == 0:
		return 1
	}
	ks := strconv.FormatInt(k, 10)
	switch intLen := int64(len(d.digits)) + d.exp; { // digits before the point
	case intLen < int64(len(ks)):
		return -1
	case intLen > int64(len(ks)):
		return 1
	}
	// Same number of integer digits: compare digit by digit, then any
	// fraction makes the value larger.
	padded := d.digits
	if d.exp > 0 {
		padded += strings.Repeat("0", int(d.exp))
	}
	if c := strings.Compare(padded[:len(ks)], ks); c != 0 {
		return c
	}
	if len(padded) > len(ks) {
		return 1
	}
	return 0
}

// UnmarshalJSONFrom reads a number literal or null.
func (n *Number) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	switch d.PeekKind() {
	case 'n':
		_, err := d.ReadToken()
		*n = Number{}
		return err
	case '0':
		v, err := d.ReadValue()
		if err != nil {
			return err
		}
		if small, ok := smallInt(v); ok {
			*n = Number{small: small, kind: numSmall}
		} else {
			*n = Number{lit: string(v), kind: numLiteral}
		}
		return nil
	default:
		k := d.PeekKind()
		if err := d.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: k, Err: errType}
	}
}

// errType is returned by unmarshalers for a JSON value of the wrong kind;
// the decoder wraps it with where it happened.
var errType = errors.New("wrong type")

var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
)

var bodies sync.Pool // *bytes.Buffer, request bodies

// ReadRequest reads and decodes a request of at most limits.MaxBodyBytes.
// size is the body's declared length, or -1: a body declared over the limit
// is refused before it is read; nothing is allocated from it. Malformed JSON, an unknown member or a value
// of the wrong type is a Malformed InputError; a body over the limit is
// TooLarge.
func ReadRequest(r io.Reader, size int64, limits Limits) (*Request, error) {
	req := new(Request)
	if err := ReadJSON(r, size, limits, req, "a JSON object with items"); err != nil {
		return nil, err
	}
	return req, nil
}

// ReadJSON reads a body as ReadRequest does and decodes it into v with
// Decode; v shares no memory with the body.
func ReadJSON(r io.Reader, size int64, limits Limits, v any, want string) error {
	limits = limits.withDefaults()
	tooBig := tooLarge("", fmt.Sprintf("the body exceeds %d bytes", limits.MaxBodyBytes))
	if size > limits.MaxBodyBytes {
		return tooBig
	}
	buf, _ := bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer bodies.Put(buf)
	buf.Reset()
	// The buffer grows with what arrives, never with what is announced:
	// a client that declares 60 MB and sends nothing costs nothing.
	if _, err := buf.ReadFrom(io.LimitReader(r, limits.MaxBodyBytes+1)); err != nil {
		return fmt.Errorf("reading request: %w", err)
	}
	if int64(buf.Len()) > limits.MaxBodyBytes {
		return tooBig
	}
	return Decode(buf.Bytes(), v, want)
}

// DecodeRequest decodes a request body.
func DecodeRequest(body []byte) (*Request, error) {
	req := new(Request)
	if err := Decode(body, req, "a JSON object with items"); err != nil {
		return nil, err
	}
	return req, nil
}

// Decode decodes a JSON body into v as strictly as a compute request: an
// unknown member, a value of the wrong type or trailing data is a Malformed
// InputError with the JSON Pointer of the offending value. want says what
// an empty body should have been.
func Decode(body []byte, v any, want string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("", "the body is empty: send "+want)
	}
	if err := json.Unmarshal(body, v, decodeOptions); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns a decoder error into a Malformed InputError that says
// where and what.
func decodeError(err error) error {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return malformed(string(syn.JSONPointer), fmt.Sprintf("malformed JSON at byte %d: %v", syn.ByteOffset, syn.Err))
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		field := string(sem.JSONPointer)
		switch {
		case errors.Is(err, json.ErrUnknownName):
			return malformed(field, "unknown field")
		case sem.GoType != nil:
			return malformed(field, "must be "+describe(sem.GoType)+got(sem.JSONKind))
		}
		return malformed(field, sem.Err.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("", "malformed JSON: the body ends too early")
	}
	return malformed("", "malformed JSON: "+err.Error())
}

var (
	numberType = reflect.TypeFor[Number]()
	flagType   = reflect.TypeFor[Flag]()
)

func describe(t reflect.Type) string {
	switch {
	case t == numberType:
		return "a number"
	case t == reflect.TypeFor[Stock]():
		return "an object of location ids to numbers"
	case t == flagType || t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "an array"
	case t.Kind() == reflect.Map, t.Kind() == reflect.Struct, t.Kind() == reflect.Pointer:
		return "an object"
	}
	return "a " + t.String()
}

func got(k jsontext.Kind) string {
	switch k {
	case '"':
		return ", got a string"
	case '0':
		return ", got a number"
	case 't', 'f':
		return ", got a boolean"
	case '{':
		return ", got an object"
	case '[':
		return ", got an array"
	case 'n':
		return ", got null"
	}
	return ""
}

// percentageBasisPoints parses a percentage exactly into basis points.
func percentageBasisPoints(n Number) (uint32, string) {
	d, ok := parseDecimal(n.String())
	if !ok {
		return 0, "must be a number"
	}
	if d.cmpInt(0) < 0 || d.cmpInt(100) > 0 {
		return 0, fmt.Sprintf("must be between 0 and 100, got %s", n)
	}
	bp, ok := d.scaledInt(2, abi.MaxPercentage)
	if !ok {
		return 0, fmt.Sprintf("may have at most two decimals, got %s", n)
	}
	return uint32(bp), ""
}

// int32Of checks that n is an integer within int32, the range of Shopify's
// quantities.
func int32Of(n Number) (int32, string) {
	v, ok := n.Int()
	if !ok {
		return 0, fmt.Sprintf("must be an integer, got %s", n)
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Sprintf("must be between %d and %d, got %s", math.MinInt32, math.MaxInt32, n)
	}
	return int32(v), ""
}
