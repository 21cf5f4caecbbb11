package compute

import (
	"fmt"
	"strings"
)

// Kind classifies an InputError.
type Kind int

// Kinds of InputError.
const (
	// Malformed input is not JSON, or has values of the wrong type.
	Malformed Kind = iota + 1
	// Invalid input is well-formed but breaks a rule of the domain.
	Invalid
	// TooLarge input is over a configured limit.
	TooLarge
)

func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed"
	case Invalid:
		return "invalid"
	case TooLarge:
		return "too large"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// FieldError is one problem with the input. Field is a JSON Pointer
// (RFC 6901) to the offending value, or "" for the whole body.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// InputError is a request the caller must fix. It lists every problem found,
// up to maxFieldErrors.
type InputError struct {
	Kind   Kind
	Errors []FieldError
}

func (e *InputError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s request", e.Kind)
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if fe.Field != "" {
			b.WriteString(fe.Field + ": ")
		}
		b.WriteString(fe.Detail)
	}
	return b.String()
}

func malformed(field, detail string) error {
	return &InputError{Kind: Malformed, Errors: []FieldError{{field, detail}}}
}

func tooLarge(field, detail string) error {
	return &InputError{Kind: TooLarge, Errors: []FieldError{{field, detail}}}
}

// maxFieldErrors bounds the problems reported for one request.
const maxFieldErrors = 100

// problems collects the field errors of one request.
type problems struct {
	list    []FieldError
	dropped int
}

func (p *problems) add(field, format string, args ...any) {
	if p == nil {
		return // validated before; nothing to report
	}
	if len(p.list) >= maxFieldErrors {
		p.dropped++
		return
	}
	p.list = append(p.list, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	if p.dropped > 0 {
		p.list = append(p.list, FieldError{Detail: fmt.Sprintf("and %d more problems", p.dropped)})
	}
	return &InputError{Kind: Invalid, Errors: p.list}
}

// RuleError is a failure of a rule module: the rule reported an error, or
// its output broke the contract.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %s: %v", e.Rule, e.Err) }

func (e *RuleError) Unwrap() error { return e.Err }
