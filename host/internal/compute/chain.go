package compute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/budget"
	"github.com/syncrules/syncrules/sdk/abi"
)

// Rule is one stage of settings.rules: a plugin version run after the
// default rule, with its params.
type Rule struct {
	Plugin  string         `json:"plugin"`
	Version string         `json:"version"`
	Params  jsontext.Value `json:"params,omitzero"`
	OnError string         `json:"on_error,omitempty"`
}

// What a stage does with items it fails on.
const (
	// OnErrorFail gives the items an error and no quantities: publishing
	// more than the merchant's rule allows is how overselling happens.
	OnErrorFail = "fail"
	// OnErrorSkip keeps the items' quantities from before the stage, with
	// a warning.
	OnErrorSkip = "skip"
)

// Plugins finds the plugin versions a chain names; package registry
// implements it.
type Plugins interface {
	// Acquire returns a plugin version's module, and a release to call
	// once the request is done with it. Its error says what is installed.
	Acquire(ctx context.Context, name, version string) (Plugin, func(), error)
}

// Errors Acquire wraps for a plugin, or a version of it, not installed.
var (
	ErrUnknownPlugin  = errors.New("unknown plugin")
	ErrUnknownVersion = errors.New("unknown plugin version")
)

// Plugin is a loaded plugin module; *engine.Module is one.
type Plugin interface {
	CallInfo(ctx context.Context, input []byte, read func(output []byte, info *engine.CallInfo) error) error
	SHA256() string
}

// stage is a resolved rule of the chain.
type stage struct {
	rule    Rule
	index   int
	label   string // "buffer@1.0.0"
	mod     Plugin
	release func()
	params  []byte
	skip    bool
}

// planRules checks settings.rules and acquires their modules; the caller
// releases them.
func (s *Service) planRules(ctx context.Context, rules []Rule, probs *problems) ([]stage, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if len(rules) > s.limits.MaxRules {
		probs.add("/settings/rules", "has %s, over the limit of %d per chain", plural(len(rules), "rule"), s.limits.MaxRules)
		return nil, nil
	}
	if s.plugins == nil {
		probs.add("/settings/rules", "this server runs no plugins")
		return nil, nil
	}
	stages := make([]stage, 0, len(rules))
	for i, r := range rules {
		field := ptr("settings", "rules", i)
		st := stage{rule: r, index: i, label: r.Plugin + "@" + r.Version}
		switch r.OnError {
		case "", OnErrorFail:
		case OnErrorSkip:
			st.skip = true
		default:
			probs.add(field+"/on_error", "must be %q or %q, got %q", OnErrorFail, OnErrorSkip, r.OnError)
		}
		switch {
		case r.Plugin == "":
			probs.add(field+"/plugin", "is required: name an installed plugin")
			continue
		case r.Version == "":
			probs.add(field+"/version", "is required: name a version of %q, such as \"1.0.0\"", r.Plugin)
			continue
		}
		if len(r.Params) > 0 {
			v := r.Params.Clone()
			if err := v.Compact(); err != nil {
				probs.add(field+"/params", "%v", err)
				continue
			}
			if !bytes.Equal(v, []byte("null")) {
				st.params = v
			}
		}
		mod, release, err := s.plugins.Acquire(ctx, r.Plugin, r.Version)
		if errors.Is(err, engine.ErrClosed) || (err != nil && ctx.Err() != nil) {
			return stages, err // shutting down, or out of time: not the caller's mistake
		}
		if err != nil {
			at := "/plugin"
			if errors.Is(err, ErrUnknownVersion) {
				at = "/version"
			}
			probs.add(field+at, "%v", err)
			continue
		}
		st.mod, st.release = mod, release
		stages = append(stages, st)
	}
	return stages, nil
}

// checkParams asks each plugin whether it takes its params, by running it
// on a batch of no items; a plugin that fails that batch refuses them.
// Verdicts are cached by module and params.
func (s *Service) checkParams(ctx context.Context, p *plan, stages []stage, probs *problems, q *requestRun) {
	for i := range stages {
		st := &stages[i]
		key := st.mod.SHA256() + "\x00" + string(st.params)
		msg, known := s.verdicts.get(key)
		if !known && !q.exhausted() {
			input := p.encode(nil, 0, st.params, []int{}, nil, nil)
			refused := false
			err := q.call(ctx, st.mod, input, func(out []byte, _ *engine.CallInfo) error {
				o, err := abi.ParseOutput(out, 0, len(p.req.Warehouses))
				if err != nil {
					return err
				}
				msg, refused = o.Failed()
				return nil
			})
			q.count(err)
			if err != nil {
				continue // a broken module fails in the chain, as on_error says
			}
			if !refused {
				msg = ""
			}
			s.verdicts.put(key, msg)
		}
		if msg != "" {
			probs.add(ptr("settings", "rules", st.index, "params"), "%s refuses its params: %s", st.label, strings.TrimPrefix(msg, "params: "))
		}
	}
}

// verdicts caches params checks. It is bounded: when full it starts over.
type verdicts struct {
	mu sync.Mutex
	m  map[string]string
}

const maxVerdicts = 4096

func (v *verdicts) get(key string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	msg, ok := v.m[key]
	return msg, ok
}

func (v *verdicts) put(key, msg string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerdicts {
		v.m = make(map[string]string)
	}
	v.m[key] = msg
}

// stageRun runs one stage of the chain over the items still in it.
type stageRun struct {
	p       *plan
	st      *stage
	resp    *Response
	explain bool
	flags   uint32
	buf     []byte
	budget  int // calls left; narrowing a failing batch spends them
	// timeouts counts the stage's calls stopped at their deadline; req
	// is the request's count, shared by its stages.
	timeouts int
	req      *requestRun

	logger    *slog.Logger
	abort     error // the module closed under the stage: the service is stopping
	clamped   int
	truncated int // items whose notes were cut
	failed    int // items the stage failed, skipped or not
	skipped   int
	firstErr  string
	firstCode string
	log       ruleLog
	stages    map[int]*Stage // the stage's trace per item, when explaining
}

// result is what one call produced for one item of its batch.
type result struct {
	values  []int32 // active warehouses
	err     *ItemError
	clamped bool
	notes   *Stage
}

// Deadlines a request may spend. A call stopped at its deadline costs the
// whole deadline, and narrowing a batch that times out by halves costs one
// more deadline per halving: a plugin that hangs on 100 items would cost
// some 64 of them. So timeouts are bounded apart from the narrowing
// budget: past maxStageTimeouts in a stage the stage makes no more calls,
// and past maxRequestTimeouts in a request no stage does. The items not
// yet computed fail with the plugin's error (or are skipped, with on_error
// "skip"), which never publishes more than the rule allows. See
// RATIONALE.md, "Why at most 2 timeouts per stage and 10 per request?".
const (
	maxStageTimeouts   = 2
	maxRequestTimeouts = 10
)

// requestRun is what the stages of a request share.
type requestRun struct {
	timeouts int // calls stopped at their deadline, params checks included
	budget   *budget.Limiter
	tenant   string
	// noteBytes is what the plugins' notes may still take.
	noteBytes int
}

// call runs mod on input within the request's budget of plugin calls.
func (q *requestRun) call(ctx context.Context, mod Plugin, input []byte, read func([]byte, *engine.CallInfo) error) error {
	if q.budget != nil {
		release, err := q.budget.Acquire(ctx, q.tenant)
		if err != nil {
			return err
		}
		defer release()
	}
	return mod.CallInfo(ctx, input, read)
}

// exhausted reports whether the request may make no more calls.
func (q *requestRun) exhausted() bool { return q.timeouts >= maxRequestTimeouts }

// count counts err if it is a call stopped at its deadline.
func (q *requestRun) count(err error) bool {
	if errors.Is(err, engine.ErrTimeout) {
		q.timeouts++
		return true
	}
	return false
}

// runChain runs every stage after the default rule on the items that have
// quantities.
func (s *Service) runChain(ctx context.Context, p *plan, stages []stage, resp *Response, opt Options, q *requestRun) error {
	flags := uint32(0)
	if opt.Explain {
		flags |= abi.FlagExplain
	}
	for i := range stages {
		live := make([]int, 0, len(resp.Items))
		for k := range resp.Items {
			if resp.Items[k].Error == nil {
				live = append(live, k)
			}
		}
		if len(live) == 0 {
			return nil
		}
		r := &stageRun{p: p, st: &stages[i], resp: resp, explain: opt.Explain, flags: flags, logger: s.logger,
			budget: narrowingBudget(len(live)), req: q, log: ruleLog{Rule: stages[i].label, limit: s.logBytes}}
		if opt.Explain {
			r.stages = make(map[int]*Stage, len(live))
		}
		if q.exhausted() {
			e := &ItemError{Rule: r.st.label, Code: string(engine.KindTimeout),
				Detail: fmt.Sprintf("not run: the plugins of this request timed out %d times, the most a request may spend", q.timeouts)}
			for _, k := range live {
				r.apply(k, result{err: e})
			}
		} else {
			r.run(ctx, live, nil)
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if r.abort != nil {
			return r.abort
		}
		r.finish()
	}
	return nil
}

// narrowingBudget bounds the calls a stage makes on n items. Halving finds
// one failing item in about 2·log2(n) calls, so this isolates some four
// failing items exactly; past it, a plugin is broken for the batch and the
// items not yet isolated fail with its error. Nothing is published for
// them, so running out never oversells. Calls stopped at their deadline
// are bounded apart, by maxStageTimeouts and maxRequestTimeouts.
func narrowingBudget(n int) int { return 8 * (bits.Len(uint(n)) + 1) }

// run runs the stage on items, narrowing a failing batch by halves so that
// only the items that fail it fail. parent is the error of the batch items
// was cut from, given to them if the budget is spent.
func (r *stageRun) run(ctx context.Context, items []int, parent error) {
	if r.abort != nil {
		return
	}
	if parent != nil {
		if why := r.stopNarrowing(parent); why != "" {
			e := itemError(r.st.label, parent)
			e.Detail += " (" + why + ")"
			for _, i := range items {
				r.apply(i, result{err: e})
			}
			return
		}
	}
	res, err := r.call(ctx, items)
	if r.req.count(err) {
		r.timeouts++
	}
	if err == nil {
		for j, i := range items {
			r.apply(i, res[j])
		}
		return
	}
	if errors.Is(err, engine.ErrClosed) {
		// Not the plugin's failure: skipping it would publish more than
		// the merchant's rule allows, failing the items would blame it.
		r.abort = err
		return
	}
	if len(items) == 1 || ctx.Err() != nil {
		e := itemError(r.st.label, err)
		for _, i := range items {
			r.apply(i, result{err: e})
		}
		return
	}
	mid := len(items) / 2
	r.run(ctx, items[:mid], err)
	r.run(ctx, items[mid:], err)
}

// stopNarrowing says why items cut from a batch that failed with parent are
// not to be run again, or "" if they are.
func (r *stageRun) stopNarrowing(parent error) string {
	switch {
	case r.timeouts >= maxStageTimeouts || r.req.exhausted():
		if errors.Is(parent, engine.ErrTimeout) {
			return "not isolated: the plugin timed out on this batch"
		}
		return "not isolated: the plugin timed out too often in this request"
	case r.budget <= 0:
		return "not isolated: the plugin failed too many items of this batch"
	}
	return ""
}

// batchError is a stage's failure of a whole batch, reported by the rule.
type batchError struct{ msg string }

func (e *batchError) Error() string { return e.msg }

// call runs the stage once on items and returns each item's result, or the
// error that failed the batch.
func (r *stageRun) call(ctx context.Context, items []int) ([]result, error) {
	r.budget--
	p := r.p
	r.buf = p.encode(r.buf, r.flags, r.st.params, items, r.resp.Items, nil)
	nw, na := len(p.req.Warehouses), len(p.active)
	maxQ := int32(p.settings.MaxQuantity)
	var res []result
	var failed *batchError
	err := r.req.call(ctx, r.st.mod, r.buf, func(out []byte, info *engine.CallInfo) error {
		r.log.add(info)
		o, err := abi.ParseOutput(out, len(items), nw)
		if err != nil {
			return err
		}
		if msg, ok := o.Failed(); ok {
			failed = &batchError{msg}
			return nil
		}
		res = make([]result, len(items))
		values := make([]int32, len(items)*na)
		for j := range items {
			rs := &res[j]
			rs.values = values[j*na : (j+1)*na : (j+1)*na]
			for w := range nw {
				q := o.Quantity(j, w)
				if !p.isActive(w) {
					if q != 0 && rs.err == nil {
						rs.err = &ItemError{Rule: r.st.label, Code: "contract",
							Detail: fmt.Sprintf("the rule set %d for inactive warehouse %q; only active warehouses may be set", q, p.req.Warehouses[w].ID)}
					}
					continue
				}
				if q < 0 || q > maxQ {
					q = min(max(q, 0), maxQ)
					rs.clamped = true
				}
				rs.values[p.column(w)] = q
			}
		}
		for k := range o.NumItemErrors() {
			j, msg := o.ItemError(k)
			res[j].err = &ItemError{Rule: r.st.label, Code: "rule_failed", Detail: msg}
		}
		if r.explain {
			stages := make([]Stage, len(items))
			for j := range items {
				res[j].notes = &stages[j]
			}
			return p.collectNotes(o, func(j int) *Stage { return &stages[j] }, &r.req.noteBytes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if failed != nil {
		return nil, failed
	}
	return res, nil
}

// apply records an item's result of the stage.
func (r *stageRun) apply(i int, rs result) {
	it := &r.resp.Items[i]
	var trace *Stage
	if r.explain {
		trace = rs.notes
		if trace == nil {
			trace = &Stage{}
		}
		trace.Stage = r.st.label
		r.stages[i] = trace
		if trace.NotesTruncated {
			r.truncated++
		}
	}
	if rs.err != nil {
		r.failed++
		if r.firstErr == "" {
			r.firstErr, r.firstCode = rs.err.Detail, rs.err.Code
		}
		if trace != nil {
			trace.Error = rs.err
		}
		if r.st.skip {
			r.skipped++
			if trace != nil {
				trace.Skipped = true
				trace.Quantities = it.Quantities
			}
			return
		}
		it.Quantities = Quantities{}
		it.Error = rs.err
		return
	}
	if rs.clamped {
		r.clamped++
	}
	it.Quantities = Quantities{names: r.p.activeIDs, values: rs.values, set: true}
	if trace != nil {
		trace.Quantities = it.Quantities
	}
}

// finish adds the stage's traces, warnings and log to the response.
func (r *stageRun) finish() {
	field := ptr("settings", "rules", r.st.index)
	if r.failed > 0 && r.logger != nil {
		onError := OnErrorFail
		if r.st.skip {
			onError = OnErrorSkip
		}
		r.logger.Warn("plugin failed", "plugin", r.st.rule.Plugin, "version", r.st.rule.Version, "sha256", r.st.mod.SHA256(),
			"items", r.failed, "code", r.firstCode, "on_error", onError, "err", r.firstErr)
	}
	if r.clamped > 0 {
		r.resp.Warnings = append(r.resp.Warnings, Warning{Code: "quantity_clamped", Field: field,
			Message: fmt.Sprintf("%s returned quantities outside [0, %d] for %s; they were clamped", r.st.label, r.p.settings.MaxQuantity, plural(r.clamped, "item"))})
	}
	if r.truncated > 0 {
		r.resp.Warnings = append(r.resp.Warnings, Warning{Code: "notes_truncated", Field: field,
			Message: fmt.Sprintf("%s wrote more notes than are kept (%d notes or %d bytes an item, and a bound per response) for %s; the rest were dropped",
				r.st.label, maxItemNotes, maxItemNoteBytes, plural(r.truncated, "item"))})
	}
	if r.skipped > 0 {
		r.resp.Warnings = append(r.resp.Warnings, Warning{Code: "rule_skipped", Field: field,
			Message: fmt.Sprintf("%s failed for %s, each keeping its quantities from before it (on_error \"skip\"); first error: %s", r.st.label, plural(r.skipped, "item"), r.firstErr)})
	}
	if !r.explain {
		return
	}
	for i, st := range r.stages {
		r.resp.Items[i].Trace = append(r.resp.Items[i].Trace, *st)
	}
	r.resp.Logs = append(r.resp.Logs, r.log.result())
}

// itemError describes a call's failure for the items it failed.
func itemError(rule string, err error) *ItemError {
	var be *batchError
	if errors.As(err, &be) {
		return &ItemError{Rule: rule, Code: "rule_failed", Detail: be.msg}
	}
	code := string(engine.KindOf(err))
	if code == "" || code == string(engine.KindOther) {
		code = "rule_failed"
	}
	return &ItemError{Rule: rule, Code: code, Detail: err.Error()}
}

// RuleLog is what a plugin wrote to stdout and stderr during a request,
// shown when explaining.
type RuleLog struct {
	Rule      string `json:"rule"`
	Calls     int    `json:"calls"`
	Output    string `json:"output"`
	Truncated bool   `json:"truncated"`
}

type ruleLog struct {
	Rule      string
	limit     int
	calls     int
	buf       []byte
	truncated bool
}

func (l *ruleLog) add(info *engine.CallInfo) {
	l.calls++
	room := l.limit - len(l.buf)
	if len(info.Log) > room {
		l.buf = append(l.buf, info.Log[:max(room, 0)]...)
		l.truncated = true
	} else {
		l.buf = append(l.buf, info.Log...)
	}
	if info.LogDropped > 0 {
		l.truncated = true
	}
}

func (l *ruleLog) result() RuleLog {
	// A rune cut at the limit, or bytes that are not text, show as U+FFFD.
	return RuleLog{Rule: l.Rule, Calls: l.calls, Output: strings.ToValidUTF8(string(l.buf), "\uFFFD"), Truncated: l.truncated}
}

// plural is n of noun: "1 item", "2 items".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
