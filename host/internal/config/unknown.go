package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// unknownKeys explains each key of the file that no field reads, one line
// each: where it is, and the key that was likely meant.
func unknownKeys(name, text string, md toml.MetaData) error {
	undecoded := md.Undecoded()
	var lines []string
	reported := map[string]bool{}
	for i, k := range undecoded {
		// A key inside an unknown table is reported as its table.
		k = unknownPart(k)
		if reported[k.String()] {
			continue
		}
		reported[k.String()] = true
		if len(lines) == maxUnknownKeys {
			// Not a config file at all, likely; and each line decodes the
			// file again.
			lines = append(lines, name+": and more unknown keys")
			break
		}
		where := name
		if line := keyLine(text, k, undecoded[i:]); line > 0 {
			where += ":" + strconv.Itoa(line)
		}
		lines = append(lines, where+": "+describeUnknown(md, k))
	}
	if len(lines) == 0 {
		return nil
	}
	return errors.New(strings.Join(lines, "\n"))
}

// maxUnknownKeys bounds the unknown keys an error lists.
const maxUnknownKeys = 10

// unknownPart returns k up to its first part no field reads.
func unknownPart(k toml.Key) toml.Key {
	t := reflect.TypeFor[Config]()
	for i, name := range k {
		f, ok := fieldByKey(t, name)
		if !ok {
			return k[:i+1]
		}
		if t = f.Type; t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			t = nil
		}
	}
	return k
}

// describeUnknown says what is wrong with key k and what was likely meant.
func describeUnknown(md toml.MetaData, k toml.Key) string {
	last := k[len(k)-1]
	parent, table := typeAt(k[:len(k)-1])
	if len(k) == 1 {
		switch md.Type(k...) {
		case "Hash", "":
			msg := fmt.Sprintf("unknown section [%s]", last)
			if near, ok := nearest(last, fieldNames(parent, reflect.Struct)); ok {
				msg += fmt.Sprintf("; did you mean [%s]?", near)
			}
			return msg
		case "ArrayHash":
			msg := fmt.Sprintf("unknown section [[%s]]", last)
			if near, ok := nearest(last, fieldNames(parent, reflect.Slice)); ok {
				msg += fmt.Sprintf("; did you mean [[%s]]?", near)
			}
			return msg
		}
		return fmt.Sprintf("key %q is outside any section", last) + belongsIn(last, "")
	}
	msg := fmt.Sprintf("unknown key %q in %s", last, table)
	if elsewhere := belongsIn(last, table); elsewhere != "" {
		return msg + elsewhere
	}
	if near, ok := nearest(last, fieldNames(parent, reflect.Invalid)); ok {
		return msg + fmt.Sprintf("; did you mean %q?", near)
	}
	return msg
}

// typeAt returns the struct type that reads the table at path, and the
// table as the file writes it ([server], [[plugins]]); nil if no field
// reads it.
func typeAt(path toml.Key) (reflect.Type, string) {
	t := reflect.TypeFor[Config]()
	array := false
	for _, name := range path {
		f, ok := fieldByKey(t, name)
		if !ok {
			return nil, ""
		}
		t, array = f.Type, f.Type.Kind() == reflect.Slice
		if array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, ""
		}
	}
	if array {
		return t, "[[" + path.String() + "]]"
	}
	return t, "[" + path.String() + "]"
}

// fieldByKey finds the field that reads key, as the TOML library matches
// them: by tag, else ignoring case.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	if t == nil {
		return reflect.StructField{}, false
	}
	var folded *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		switch name := tomlName(f); {
		case name == key:
			return f, true
		case folded == nil && strings.EqualFold(name, key):
			folded = &f
		}
	}
	if folded != nil {
		return *folded, true
	}
	return reflect.StructField{}, false
}

// fieldNames lists the keys of struct t, only those of the given kind
// unless kind is reflect.Invalid.
func fieldNames(t reflect.Type, kind reflect.Kind) []string {
	if t == nil {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		if f := t.Field(i); kind == reflect.Invalid || f.Type.Kind() == kind {
			names = append(names, tomlName(f))
		}
	}
	return names
}

// belongsIn names the sections, other than the one the key was found in,
// that have the key.
func belongsIn(key, foundIn string) string {
	var sections []string
	root := reflect.TypeFor[Config]()
	for i := range root.NumField() {
		section := root.Field(i)
		if section.Type.Kind() != reflect.Struct || "["+tomlName(section)+"]" == foundIn {
			continue
		}
		if _, ok := fieldByKey(section.Type, key); ok {
			sections = append(sections, "["+tomlName(section)+"]")
		}
	}
	switch len(sections) {
	case 0:
		return ""
	case 1:
		return "; it belongs in " + sections[0]
	}
	return "; it is a key of " + strings.Join(sections[:len(sections)-1], ", ") + " and " + sections[len(sections)-1]
}

// keyLine returns the line of the file where first is, or 0 if it cannot
// tell. A table only implied by a longer key ([a.b] implies a) has no line
// of its own: then the line of the first key inside it among keys.
func keyLine(text string, first toml.Key, keys []toml.Key) int {
	for _, k := range slices.Concat([]toml.Key{first}, keys) {
		if len(k) < len(first) || !slices.Equal(k[:len(first)], first) {
			continue
		}
		if line := probeLine(text, k); line > 0 {
			return line
		}
	}
	return 0
}

// probeLine finds the line of key by decoding the file again into a probe
// that has only that key and fails on it: the TOML library knows where each
// key is, but tells only in the position of a decoding error. Scanning the
// file would have to understand TOML's multi-line strings, dotted keys and
// inline tables to be right.
func probeLine(text string, key toml.Key) int {
	_, err := toml.Decode(text, reflect.New(probeType(reflect.TypeFor[Config](), key)).Interface())
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.Message == errProbe.Error() {
		return pe.Position.Line
	}
	return 0
}

// probeType is a struct with the path of key alone, through the same
// tables and arrays of tables as t, and a probeLeaf at its end.
func probeType(t reflect.Type, key toml.Key) reflect.Type {
	inner := reflect.TypeFor[probeLeaf]()
	if len(key) > 1 {
		var next reflect.Type
		f, ok := fieldByKey(t, key[0])
		array := ok && f.Type.Kind() == reflect.Slice
		switch {
		case array && f.Type.Elem().Kind() == reflect.Struct:
			next = f.Type.Elem()
		case ok && f.Type.Kind() == reflect.Struct:
			next = f.Type
		}
		inner = probeType(next, key[1:])
		if array {
			inner = reflect.SliceOf(inner)
		}
	}
	return reflect.StructOf([]reflect.StructField{{
		Name: "Probe",
		Type: inner,
		Tag:  reflect.StructTag("toml:" + strconv.Quote(key[0])),
	}})
}

var errProbe = errors.New("config: probe reached its key")

// probeLeaf fails to decode anything, which reports where it is.
type probeLeaf struct{}

func (probeLeaf) UnmarshalTOML(any) error { return errProbe }

// nearest returns the candidate closest to word, when it is close enough to
// be a likely misspelling of it.
func nearest(word string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if d <= max(1, len([]rune(c))/4) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best, bestDist >= 0
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment): insertions, deletions, substitutions and swaps of adjacent
// letters, the usual typos.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows of the table: two back, one back, this one.
	prev2, prev, cur := make([]int, len(t)+1), make([]int, len(t)+1), make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
