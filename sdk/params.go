package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// WithParams returns a Rule that calls f with the rule's params decoded over
// defaults. Params are decoded as JSON with unknown fields refused, so a
// mistyped name is reported rather than ignored; if P (or *P) has a method
// Validate() error, it runs next, and may normalise the value it is called
// on: f receives what Validate left. Either error fails the batch.
//
// Each decode starts from a fresh copy of defaults made through JSON, so
// params never leak from one batch into the next through a map or slice of
// the defaults; only the fields JSON sees are copied.
//
// The host checks the params of a chain before it runs it by calling the
// rule on a batch of no items: a rule made by WithParams refuses bad params
// then, so a merchant learns of a typo when saving settings, not in the
// middle of a sync.
//
// Decoding is cached: a batch with the same params bytes as the previous one
// reuses its value, which keeps JSON decoding out of the per-call cost.
func WithParams[P any](defaults P, f func(b *Batch, p P) error) Rule {
	d, err := json.Marshal(defaults)
	if err != nil {
		panic(fmt.Sprintf("sdk: WithParams: defaults do not encode as JSON: %v", err))
	}
	return &paramsRule[P]{defaults: d, f: f}
}

type paramsRule[P any] struct {
	defaults []byte // JSON
	f        func(*Batch, P) error

	cached bool
	raw    []byte
	p      P
}

func (r *paramsRule[P]) Compute(b *Batch) error {
	raw := b.in.Params()
	if !r.cached || !bytes.Equal(raw, r.raw) {
		p, err := decodeParams[P](r.defaults, raw)
		if err != nil {
			r.cached = false
			return err
		}
		r.cached, r.raw, r.p = true, append(r.raw[:0], raw...), p
	}
	return r.f(b, r.p)
}

// validator is what a params type implements to check its values.
type validator interface{ Validate() error }

func decodeParams[P any](defaults, raw []byte) (P, error) {
	var p P
	if err := json.Unmarshal(defaults, &p); err != nil {
		return p, fmt.Errorf("params: defaults: %w", err)
	}
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&p); err != nil {
			return p, fmt.Errorf("params: %w", err)
		}
		if _, err := d.Token(); err != io.EOF {
			return p, fmt.Errorf("params: unexpected data after the JSON value")
		}
	}
	if v, ok := any(&p).(validator); ok {
		if err := v.Validate(); err != nil {
			return p, fmt.Errorf("params: %w", err)
		}
	}
	return p, nil
}
