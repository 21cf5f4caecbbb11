package shopifyfake

import (
	"fmt"
	"strconv"
	"strings"
)

// A small GraphQL reader: enough of the language for the queries a client
// sends (operations, variables, aliases, arguments, inline fragments,
// named fragments), not a GraphQL engine. What it reads is checked against
// the fields in schema.go.

type document struct {
	op        string // "query" or "mutation"
	vars      []varDef
	sel       []selection
	fragments map[string]*fragment
}

type varDef struct {
	name string
	def  any // default value, nil if none
	has  bool
}

type selection struct {
	// A field, or a fragment: inline (on != "" or spread == "") or a spread.
	alias, name string
	args        map[string]any // values; variables as varRef
	sel         []selection
	fragment    bool
	on          string // inline fragment type condition
	spread      string // named fragment
}

type fragment struct {
	on  string
	sel []selection
}

// varRef is a variable used as a value.
type varRef string

// enumValue is an enum literal.
type enumValue string

type token struct {
	kind byte // 'n' name, 's' string, 'i' int, 'f' float, 'p' punctuator, 0 end
	text string
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return l.token()
		}
	}
	return token{}, nil
}

func (l *lexer) token() (token, error) {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case strings.HasPrefix(l.src[l.pos:], "..."):
		l.pos += 3
		return token{'p', "..."}, nil
	case strings.ContainsRune("{}()[]:!$=@|&", rune(c)):
		l.pos++
		return token{'p', string(c)}, nil
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for l.pos < len(l.src) && isNameChar(l.src[l.pos]) {
			l.pos++
		}
		return token{'n', l.src[start:l.pos]}, nil
	case c == '-' || c >= '0' && c <= '9':
		l.pos++
		kind := byte('i')
		for l.pos < len(l.src) && strings.IndexByte("0123456789.eE+-", l.src[l.pos]) >= 0 {
			if strings.IndexByte(".eE", l.src[l.pos]) >= 0 {
				kind = 'f'
			}
			l.pos++
		}
		return token{kind, l.src[start:l.pos]}, nil
	case c == '"':
		if strings.HasPrefix(l.src[l.pos:], `"""`) {
			end := strings.Index(l.src[l.pos+3:], `"""`)
			if end < 0 {
				return token{}, fmt.Errorf("unterminated block string")
			}
			s := l.src[l.pos+3 : l.pos+3+end]
			l.pos += end + 6
			return token{'s', s}, nil
		}
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] != '"' {
			if l.src[l.pos] == '\\' {
				l.pos++
			}
			l.pos++
		}
		if l.pos >= len(l.src) {
			return token{}, fmt.Errorf("unterminated string")
		}
		l.pos++
		s, err := strconv.Unquote(l.src[start:l.pos])
		if err != nil {
			return token{}, fmt.Errorf("bad string %s", l.src[start:l.pos])
		}
		return token{'s', s}, nil
	}
	return token{}, fmt.Errorf("unexpected character %q", c)
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type parser struct {
	lex lexer
	tok token
}

// parseDocument reads a query document. operationName picks the
// operation when the document has several.
func parseDocument(src, operationName string) (*document, error) {
	p := &parser{lex: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	doc := &document{fragments: map[string]*fragment{}}
	var ops []*document
	var names []string
	for p.tok.kind != 0 {
		switch {
		case p.tok.kind == 'n' && p.tok.text == "fragment":
			if err := p.advance(); err != nil {
				return nil, err
			}
			name, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.keyword("on"); err != nil {
				return nil, err
			}
			on, err := p.name()
			if err != nil {
				return nil, err
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			doc.fragments[name] = &fragment{on: on, sel: sel}
		case p.is('p', "{"):
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			ops, names = append(ops, &document{op: "query", sel: sel}), append(names, "")
		case p.tok.kind == 'n' && (p.tok.text == "query" || p.tok.text == "mutation" || p.tok.text == "subscription"):
			op := &document{op: p.tok.text}
			if op.op == "subscription" {
				return nil, fmt.Errorf("subscriptions are not supported")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			name := ""
			if p.tok.kind == 'n' {
				name = p.tok.text
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if p.is('p', "(") {
				vars, err := p.varDefs()
				if err != nil {
					return nil, err
				}
				op.vars = vars
			}
			if err := p.directives(); err != nil {
				return nil, err
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			op.sel = sel
			ops, names = append(ops, op), append(names, name)
		default:
			return nil, fmt.Errorf("unexpected %q", p.tok.text)
		}
	}
	var chosen *document
	switch {
	case len(ops) == 0:
		return nil, fmt.Errorf("the document has no operation")
	case operationName != "":
		for i, n := range names {
			if n == operationName {
				chosen = ops[i]
			}
		}
		if chosen == nil {
			return nil, fmt.Errorf("no operation named %q", operationName)
		}
	case len(ops) > 1:
		return nil, fmt.Errorf("an operation name is required when the document has several operations")
	default:
		chosen = ops[0]
	}
	chosen.fragments = doc.fragments
	return chosen, nil
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *parser) is(kind byte, text string) bool { return p.tok.kind == kind && p.tok.text == text }

func (p *parser) expect(text string) error {
	if !p.is('p', text) {
		return fmt.Errorf("expected %q, found %q", text, p.tok.text)
	}
	return p.advance()
}

func (p *parser) keyword(word string) error {
	if !p.is('n', word) {
		return fmt.Errorf("expected %q, found %q", word, p.tok.text)
	}
	return p.advance()
}

func (p *parser) name() (string, error) {
	if p.tok.kind != 'n' {
		return "", fmt.Errorf("expected a name, found %q", p.tok.text)
	}
	n := p.tok.text
	return n, p.advance()
}

func (p *parser) varDefs() ([]varDef, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var out []varDef
	for !p.is('p', ")") {
		if err := p.expect("$"); err != nil {
			return nil, err
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		if err := p.typeRef(); err != nil {
			return nil, err
		}
		v := varDef{name: name}
		if p.is('p', "=") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if v.def, err = p.value(); err != nil {
				return nil, err
			}
			v.has = true
		}
		out = append(out, v)
	}
	return out, p.advance()
}

func (p *parser) typeRef() error {
	if p.is('p', "[") {
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.typeRef(); err != nil {
			return err
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	} else if _, err := p.name(); err != nil {
		return err
	}
	if p.is('p', "!") {
		return p.advance()
	}
	return nil
}

// directives skips @include/@skip and the like: the fake does not honour
// them, so it refuses them rather than silently ignoring them.
func (p *parser) directives() error {
	if p.is('p', "@") {
		return fmt.Errorf("directives are not supported")
	}
	return nil
}

func (p *parser) selectionSet() ([]selection, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []selection
	for !p.is('p', "}") {
		if p.tok.kind == 0 {
			return nil, fmt.Errorf("unexpected end of the document")
		}
		s, err := p.selection()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, p.advance()
}

func (p *parser) selection() (selection, error) {
	if p.is('p', "...") {
		if err := p.advance(); err != nil {
			return selection{}, err
		}
		s := selection{fragment: true}
		switch {
		case p.is('n', "on"):
			if err := p.advance(); err != nil {
				return s, err
			}
			on, err := p.name()
			if err != nil {
				return s, err
			}
			s.on = on
		case p.tok.kind == 'n':
			s.spread = p.tok.text
			if err := p.advance(); err != nil {
				return s, err
			}
			return s, p.directives()
		}
		if err := p.directives(); err != nil {
			return s, err
		}
		sel, err := p.selectionSet()
		s.sel = sel
		return s, err
	}
	name, err := p.name()
	if err != nil {
		return selection{}, err
	}
	s := selection{alias: name, name: name}
	if p.is('p', ":") {
		if err := p.advance(); err != nil {
			return s, err
		}
		if s.name, err = p.name(); err != nil {
			return s, err
		}
	}
	if p.is('p', "(") {
		if err := p.advance(); err != nil {
			return s, err
		}
		s.args = map[string]any{}
		for !p.is('p', ")") {
			arg, err := p.name()
			if err != nil {
				return s, err
			}
			if err := p.expect(":"); err != nil {
				return s, err
			}
			if s.args[arg], err = p.value(); err != nil {
				return s, err
			}
		}
		if err := p.advance(); err != nil {
			return s, err
		}
	}
	if err := p.directives(); err != nil {
		return s, err
	}
	if p.is('p', "{") {
		if s.sel, err = p.selectionSet(); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (p *parser) value() (any, error) {
	t := p.tok
	switch {
	case t.kind == 'p' && t.text == "$":
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.name()
		return varRef(n), err
	case t.kind == 'i':
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %s", t.text)
		}
		return n, p.advance()
	case t.kind == 'f':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %s", t.text)
		}
		return f, p.advance()
	case t.kind == 's':
		return t.text, p.advance()
	case t.kind == 'n':
		var v any
		switch t.text {
		case "true":
			v = true
		case "false":
			v = false
		case "null":
			v = nil
		default:
			v = enumValue(t.text)
		}
		return v, p.advance()
	case t.kind == 'p' && t.text == "[":
		if err := p.advance(); err != nil {
			return nil, err
		}
		list := []any{}
		for !p.is('p', "]") {
			if p.tok.kind == 0 {
				return nil, fmt.Errorf("unexpected end of the document")
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, p.advance()
	case t.kind == 'p' && t.text == "{":
		if err := p.advance(); err != nil {
			return nil, err
		}
		obj := map[string]any{}
		for !p.is('p', "}") {
			k, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if obj[k], err = p.value(); err != nil {
				return nil, err
			}
		}
		return obj, p.advance()
	}
	return nil, fmt.Errorf("expected a value, found %q", t.text)
}
