package abi_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/sdk/abi"
)

// attrGen generates an attribute at nesting depth depth (1 at the top) that
// DecodeAttrs accepts: UTF-8 text, keys of at most MaxAttrKeyLen bytes and
// groups no deeper than MaxAttrDepth. Floats are any bit pattern, NaNs
// included.
func attrGen(depth int) *rapid.Generator[abi.Attr] {
	return rapid.Custom(func(t *rapid.T) abi.Attr {
		a := abi.Attr{
			Key:  rapid.StringN(-1, -1, abi.MaxAttrKeyLen).Draw(t, "key"),
			Kind: abi.AttrKind(rapid.IntRange(int(abi.KindBool), int(abi.KindGroup)).Draw(t, "kind")),
		}
		switch a.Kind {
		case abi.KindBool:
			a.Bool = rapid.Bool().Draw(t, "bool")
		case abi.KindInt64:
			a.Int64 = rapid.Int64().Draw(t, "int64")
		case abi.KindUint64:
			a.Uint64 = rapid.Uint64().Draw(t, "uint64")
		case abi.KindFloat64:
			a.Float64 = math.Float64frombits(rapid.Uint64().Draw(t, "float64 bits"))
		case abi.KindString:
			a.String = rapid.String().Draw(t, "string")
		case abi.KindGroup:
			if depth < abi.MaxAttrDepth {
				a.Group = rapid.SliceOfN(attrGen(depth+1), 0, 3).Draw(t, "group")
			}
		}
		return a
	})
}

// attrsEqual compares attributes field by field, floats by their bits, and
// an empty group equal to a nil one.
func attrsEqual(a, b []abi.Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Key != y.Key || x.Kind != y.Kind || x.Bool != y.Bool || x.Int64 != y.Int64 || x.Uint64 != y.Uint64 ||
			math.Float64bits(x.Float64) != math.Float64bits(y.Float64) || x.String != y.String || !attrsEqual(x.Group, y.Group) {
			return false
		}
	}
	return true
}

// checkAttrs fails unless decoded attributes keep within the limits
// DecodeAttrs promises.
func checkAttrs(t fataler, attrs []abi.Attr, depth int) {
	for _, a := range attrs {
		if depth > abi.MaxAttrDepth {
			t.Fatalf("attribute %q is nested %d deep, over %d", a.Key, depth, abi.MaxAttrDepth)
		}
		if len(a.Key) > abi.MaxAttrKeyLen || !utf8.ValidString(a.Key) || !utf8.ValidString(a.String) {
			t.Fatalf("attribute %q (%d bytes) has a key or value that is too long or not UTF-8", a.Key, len(a.Key))
		}
		if a.Kind < abi.KindBool || a.Kind > abi.KindGroup {
			t.Fatalf("attribute %q has unknown kind %d", a.Key, a.Kind)
		}
		checkAttrs(t, a.Group, depth+1)
	}
}

func encodeAttrs(attrs ...abi.Attr) []byte {
	var b []byte
	for _, a := range attrs {
		b = abi.AppendAttr(b, a)
	}
	return b
}

// chain returns an attribute whose deepest member is nested depth deep: a
// bool at depth 1, a group holding chain(depth-1) above that.
func chain(depth int) abi.Attr {
	a := abi.Attr{Key: "leaf", Kind: abi.KindBool, Bool: true}
	for range depth - 1 {
		a = abi.Attr{Key: "g", Kind: abi.KindGroup, Group: []abi.Attr{a}}
	}
	return a
}

// TestAppendAttrExample checks the example of AppendAttr's documentation:
// 985 zig-zags to 1970 = 0x7b2, a varint of b2 0f.
func TestAppendAttrExample(t *testing.T) {
	got := abi.AppendAttr(nil, abi.Attr{Key: "total", Kind: abi.KindInt64, Int64: 985})
	want := []byte{0x02, 0x05, 't', 'o', 't', 'a', 'l', 0xb2, 0x0f}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendAttr() = % x, want % x", got, want)
	}
}

func TestAttrRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		attrs := rapid.SliceOfN(attrGen(1), 0, 4).Draw(t, "attrs")
		// AppendAttr appends: what dst held stays in front.
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		buf := prefix
		for _, a := range attrs {
			buf = abi.AppendAttr(buf, a)
		}
		if !bytes.HasPrefix(buf, prefix) {
			t.Fatalf("AppendAttr changed the bytes before it")
		}
		got, err := abi.DecodeAttrs(buf[len(prefix):])
		if err != nil {
			t.Fatalf("DecodeAttrs: %v", err)
		}
		if !attrsEqual(got, attrs) {
			t.Fatalf("DecodeAttrs() = %+v, want %+v", got, attrs)
		}
	})
}

func TestDecodeAttrs(t *testing.T) {
	valid := encodeAttrs(abi.Attr{Key: "ok", Kind: abi.KindBool})
	longKey := strings.Repeat("k", abi.MaxAttrKeyLen)
	tests := []struct {
		name    string
		in      []byte
		want    []abi.Attr
		wantErr bool
	}{
		{name: "nothing", in: nil, want: nil},
		{name: "every kind", in: encodeAttrs(chain(2), abi.Attr{Key: "n", Kind: abi.KindInt64, Int64: math.MinInt64},
			abi.Attr{Key: "u", Kind: abi.KindUint64, Uint64: math.MaxUint64}, abi.Attr{Key: "f", Kind: abi.KindFloat64, Float64: -0.5},
			abi.Attr{Key: "s", Kind: abi.KindString, String: "東京"}),
			want: []abi.Attr{chain(2), {Key: "n", Kind: abi.KindInt64, Int64: math.MinInt64},
				{Key: "u", Kind: abi.KindUint64, Uint64: math.MaxUint64}, {Key: "f", Kind: abi.KindFloat64, Float64: -0.5},
				{Key: "s", Kind: abi.KindString, String: "東京"}}},
		{name: "empty group", in: encodeAttrs(abi.Attr{Key: "g", Kind: abi.KindGroup}), want: []abi.Attr{{Key: "g", Kind: abi.KindGroup}}},
		{name: "nested as deep as allowed", in: encodeAttrs(chain(abi.MaxAttrDepth)), want: []abi.Attr{chain(abi.MaxAttrDepth)}},
		{name: "nested too deep", in: encodeAttrs(chain(abi.MaxAttrDepth + 1)), wantErr: true},
		{name: "key as long as allowed", in: encodeAttrs(abi.Attr{Key: longKey, Kind: abi.KindBool}), want: []abi.Attr{{Key: longKey, Kind: abi.KindBool}}},
		{name: "key too long", in: encodeAttrs(abi.Attr{Key: longKey + "k", Kind: abi.KindBool}), wantErr: true},
		{name: "kind only", in: []byte{byte(abi.KindBool)}, wantErr: true},
		{name: "kind zero", in: []byte{0, 0}, wantErr: true},
		{name: "kind past the last", in: []byte{byte(abi.KindGroup) + 1, 0, 0}, wantErr: true},
		{name: "garbage after an attribute", in: append(valid[:len(valid):len(valid)], 0xff), wantErr: true},
		{name: "key past the end", in: []byte{byte(abi.KindBool), 5, 'a'}, wantErr: true},
		{name: "key length overflows", in: []byte{byte(abi.KindBool), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, wantErr: true},
		{name: "key not UTF-8", in: []byte{byte(abi.KindBool), 1, 0xff, 0}, wantErr: true},
		{name: "bool of 2", in: []byte{byte(abi.KindBool), 0, 2}, wantErr: true},
		{name: "bool missing", in: []byte{byte(abi.KindBool), 0}, wantErr: true},
		{name: "int missing", in: []byte{byte(abi.KindInt64), 0}, wantErr: true},
		{name: "int cut short", in: []byte{byte(abi.KindInt64), 0, 0x80}, wantErr: true},
		{name: "int overflows", in: []byte{byte(abi.KindInt64), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, wantErr: true},
		{name: "uint missing", in: []byte{byte(abi.KindUint64), 0}, wantErr: true},
		{name: "float short", in: []byte{byte(abi.KindFloat64), 0, 1, 2, 3, 4, 5, 6, 7}, wantErr: true},
		{name: "string past the end", in: []byte{byte(abi.KindString), 0, 3, 'a'}, wantErr: true},
		{name: "string not UTF-8", in: []byte{byte(abi.KindString), 0, 1, 0xc3}, wantErr: true},
		{name: "group claims more members than bytes", in: []byte{byte(abi.KindGroup), 0, 4, byte(abi.KindBool), 0, 1}, wantErr: true},
		{name: "group cut short", in: append([]byte{byte(abi.KindGroup), 0, 2}, valid...), wantErr: true},
		{name: "group count missing", in: []byte{byte(abi.KindGroup), 0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := abi.DecodeAttrs(tt.in)
			if tt.wantErr {
				if !errors.Is(err, abi.ErrContract) {
					t.Fatalf("DecodeAttrs() = %+v, %v; want an error wrapping ErrContract", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeAttrs() error = %v", err)
			}
			if !attrsEqual(got, tt.want) {
				t.Errorf("DecodeAttrs() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzDecodeAttrs(f *testing.F) {
	every := encodeAttrs(chain(3), abi.Attr{Key: "n", Kind: abi.KindInt64, Int64: -985},
		abi.Attr{Key: "u", Kind: abi.KindUint64, Uint64: 1 << 40}, abi.Attr{Key: "f", Kind: abi.KindFloat64, Float64: math.Inf(-1)},
		abi.Attr{Key: "s", Kind: abi.KindString, String: "80% of 985"}, abi.Attr{Key: "g", Kind: abi.KindGroup})
	f.Add([]byte{})
	f.Add(every)
	f.Add(every[:len(every)-1])
	f.Add(every[1:])
	f.Add(encodeAttrs(chain(abi.MaxAttrDepth)))
	f.Add(encodeAttrs(chain(abi.MaxAttrDepth + 1)))
	f.Add(encodeAttrs(abi.Attr{Key: strings.Repeat("k", abi.MaxAttrKeyLen+1), Kind: abi.KindBool}))
	f.Add([]byte{byte(abi.KindString), 0, 1, 0xff})
	f.Add([]byte{byte(abi.KindGroup), 0, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, in []byte) {
		attrs, err := abi.DecodeAttrs(in)
		if err != nil {
			if !errors.Is(err, abi.ErrContract) {
				t.Fatalf("error %v does not wrap ErrContract", err)
			}
			return
		}
		checkAttrs(t, attrs, 1)
		// One encoding per attribute: what is accepted is what AppendAttr
		// writes.
		if out := encodeAttrs(attrs...); !bytes.Equal(out, in) {
			t.Fatalf("DecodeAttrs(% x) = %+v, which encodes as % x", in, attrs, out)
		}
	})
}
