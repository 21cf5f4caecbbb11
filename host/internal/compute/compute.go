// Package compute turns a compute request into quantities per item and
// warehouse. It validates the request, encodes it for the rule module as
// package abi lays it out, runs the module, and checks everything the module
// returns before building the response.
package compute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncrules/syncrules/host/internal/budget"
	"github.com/syncrules/syncrules/sdk/abi"
)

// DefaultRuleName names the default rule in traces and errors.
const DefaultRuleName = "default"

// Bounds of max_quantity.
const (
	MinMaxQuantity = 1
	MaxMaxQuantity = 999_999
)

// Limits bound a request. Zero fields take the defaults.
type Limits struct {
	MaxBodyBytes  int64 // default 64 MiB
	MaxItems      int   // default 100,000
	MaxLocations  int   // default 10,000
	MaxWarehouses int   // default 10,000
	// MaxCells bounds items x (locations + warehouses), the size of the
	// dense tables handed to the rule. Default 20,000,000 (80 MB).
	MaxCells int
	// MaxRules bounds settings.rules, the plugins run after the default
	// rule. Default 8.
	MaxRules int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 20
	}
	if l.MaxItems <= 0 {
		l.MaxItems = 100_000
	}
	if l.MaxLocations <= 0 {
		l.MaxLocations = 10_000
	}
	if l.MaxWarehouses <= 0 {
		l.MaxWarehouses = 10_000
	}
	if l.MaxCells <= 0 {
		l.MaxCells = 20_000_000
	}
	if l.MaxRules <= 0 {
		l.MaxRules = 8
	}
	return l
}

// Runner runs a rule module on an encoded batch; *engine.Module is one.
type Runner interface {
	Call(ctx context.Context, input []byte, read func(output []byte) error) error
}

// Service computes quantities with the default rule and the plugins a
// request's settings chain after it.
type Service struct {
	rule        Runner
	limits      Limits
	maxQuantity uint32
	inputs      sync.Pool // *[]byte, encoded inputs
	plugins     Plugins
	logBytes    int
	logger      *slog.Logger
	verdicts    verdicts
	budgets     [2]atomic.Pointer[budget.Limiter] // by Class
	// maxNoteBytes bounds a response's plugin notes.
	maxNoteBytes int
}

// WithPlugins makes s run settings.rules with plugins from p, keeping up to
// logBytes of each plugin's output per request for explanations, and
// logging plugin failures to logger. Call it before s serves.
func (s *Service) WithPlugins(p Plugins, logBytes int, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	s.plugins, s.logBytes, s.logger = p, max(logBytes, 0), logger
	return s
}

// NewService returns a Service that runs rule. maxQuantity is the default
// for requests that do not set one; it must be within [1, 999999].
func NewService(rule Runner, limits Limits, maxQuantity int) (*Service, error) {
	if maxQuantity < MinMaxQuantity || maxQuantity > MaxMaxQuantity {
		return nil, fmt.Errorf("compute: max quantity %d is outside [%d, %d]", maxQuantity, MinMaxQuantity, MaxMaxQuantity)
	}
	s := &Service{rule: rule, limits: limits.withDefaults(), maxQuantity: uint32(maxQuantity), maxNoteBytes: MaxNoteBytes}
	return s.WithBudgets(budget.New(budget.DefaultInteractive()), budget.New(budget.DefaultSync())), nil
}

// Limits returns the service's limits, defaults filled in.
func (s *Service) Limits() Limits { return s.limits }

// Options change what Compute reports.
type Options struct {
	// Explain adds a trace of each stage to every item.
	Explain bool
	// Tenant is whom the compute is for, in the sharing of plugin calls
	// between tenants: "shop:<id>" for a shop's compute, the token for an
	// inline one.
	Tenant string
	// Class chooses the budget of plugin calls the compute draws on.
	Class Class
}

// Class is a kind of work with its own budget of plugin calls, so that a
// burst of one cannot delay the other.
type Class int

// Classes of work.
const (
	// Interactive is an API call someone waits for.
	Interactive Class = iota
	// Sync is background work: syncing shops.
	Sync
)

func (c Class) String() string {
	if c == Sync {
		return "sync"
	}
	return "interactive"
}

// WithBudgets makes s run each plugin call within the budget of its
// request's class: at most so many at once, shared fairly between tenants
// (package budget). A nil limiter leaves its class unbounded. The default
// rule is trusted and never waits for them. Call it before s serves.
func (s *Service) WithBudgets(interactive, sync *budget.Limiter) *Service {
	s.budgets[Interactive].Store(interactive)
	s.budgets[Sync].Store(sync)
	return s
}

// Budget returns the limiter of a class's plugin calls, nil if unbounded.
func (s *Service) Budget(c Class) *budget.Limiter {
	if c < 0 || int(c) >= len(s.budgets) {
		return nil
	}
	return s.budgets[c].Load()
}

// Compute validates req and computes its quantities. Errors the caller can
// fix are *InputError; a rule's failure is *RuleError.
func (s *Service) Compute(ctx context.Context, req *Request, opt Options) (*Response, error) {
	if len(req.Items) > s.limits.MaxItems {
		return nil, tooLarge("/items", fmt.Sprintf("%d items exceed the limit of %d per request", len(req.Items), s.limits.MaxItems))
	}
	var probs problems
	p, err := s.plan(req, &probs)
	if err != nil {
		return nil, err
	}
	var stages []stage
	if req.Settings != nil {
		stages, err = s.planRules(ctx, req.Settings.Rules, &probs)
	}
	defer func() {
		for _, st := range stages {
			st.release()
		}
	}()
	if err != nil {
		return nil, err
	}
	bufp, _ := s.inputs.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer s.inputs.Put(bufp)
	flags := uint32(0)
	if opt.Explain {
		flags |= abi.FlagExplain
	}
	input := p.encode(*bufp, flags, nil, nil, nil, &probs)
	q := &requestRun{tenant: opt.Tenant, noteBytes: s.maxNoteBytes}
	q.budget = s.Budget(opt.Class)
	if len(probs.list) == 0 && len(stages) > 0 {
		s.checkParams(ctx, p, stages, &probs, q)
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	*bufp = input
	resp := p.response()
	err = s.rule.Call(ctx, input, func(out []byte) error { return p.read(out, resp, opt.Explain) })
	if err != nil {
		var re *RuleError
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, err
		}
		return nil, &RuleError{Rule: DefaultRuleName, Err: err}
	}
	if err := s.runChain(ctx, p, stages, resp, opt, q); err != nil {
		return nil, err
	}
	resp.Modules = s.modulesRun(stages)
	return resp, nil
}

// modulesRun names the default rule and the plugin versions of stages
// with their sha256. A rule that cannot tell its sha256 (a test double)
// has it empty.
func (s *Service) modulesRun(stages []stage) []ModuleRun {
	out := make([]ModuleRun, 0, 1+len(stages))
	def := ModuleRun{Name: DefaultRuleName}
	if m, ok := s.rule.(interface{ SHA256() string }); ok {
		def.SHA256 = m.SHA256()
	}
	out = append(out, def)
	for _, st := range stages {
		out = append(out, ModuleRun{Name: st.rule.Plugin, Version: st.rule.Version, SHA256: st.mod.SHA256()})
	}
	return out
}

// plan is a validated request, resolved to indices.
type plan struct {
	req       *Request
	settings  abi.Settings
	locIndex  map[string]int
	mappings  [][2]uint32
	active    []int    // indices of active warehouses: the result's columns
	activeIDs []string // their ids
	columns   []int    // column of each warehouse in the result, -1 if inactive
	warnings  []Warning
}

// ptr builds a JSON Pointer from tokens, escaping them.
func ptr(tokens ...any) string {
	var p jsontext.Pointer
	for _, t := range tokens {
		switch t := t.(type) {
		case string:
			p = p.AppendToken(t)
		case int:
			p = p.AppendToken(strconv.Itoa(t))
		}
	}
	return string(p)
}

// plan checks the request's limits, locations, warehouses and settings. It
// adds what the caller must fix to probs, and fails only for a request over
// the limits.
func (s *Service) plan(req *Request, probs *problems) (*plan, error) {
	p := &plan{req: req, settings: abi.Settings{Percentage: abi.MaxPercentage, MaxQuantity: s.maxQuantity}}
	if len(req.Locations) > s.limits.MaxLocations {
		return nil, tooLarge("/locations", fmt.Sprintf("%d locations exceed the limit of %d", len(req.Locations), s.limits.MaxLocations))
	}
	if len(req.Warehouses) > s.limits.MaxWarehouses {
		return nil, tooLarge("/warehouses", fmt.Sprintf("%d warehouses exceed the limit of %d", len(req.Warehouses), s.limits.MaxWarehouses))
	}
	if cells := len(req.Items) * (len(req.Locations) + len(req.Warehouses)); cells > s.limits.MaxCells {
		return nil, tooLarge("/items", fmt.Sprintf("%d items x %d locations and warehouses exceed the limit of %d cells; send fewer items per request",
			len(req.Items), len(req.Locations)+len(req.Warehouses), s.limits.MaxCells))
	}

	p.locIndex = make(map[string]int, len(req.Locations))
	for i, loc := range req.Locations {
		if loc.ID == AllLocations {
			probs.add(ptr("locations", i, "id"), "%q is reserved for mappings from every active location", AllLocations)
			continue
		}
		if checkPlatformID("locations", i, loc.ID, probs) {
			indexID(p.locIndex, "locations", i, loc.ID, probs)
		}
	}
	whIndex := make(map[string]int, len(req.Warehouses))
	defaultWh := -1
	for i, wh := range req.Warehouses {
		if checkPlatformID("warehouses", i, wh.ID, probs) {
			indexID(whIndex, "warehouses", i, wh.ID, probs)
		}
		if wh.Default {
			if defaultWh >= 0 {
				probs.add(ptr("warehouses", i, "default"), "only one warehouse may be the default; /warehouses/%d already is", defaultWh)
			} else {
				defaultWh = i
			}
		}
		p.columns = append(p.columns, -1)
		if wh.Active.Or(true) {
			p.columns[i] = len(p.active)
			p.active = append(p.active, i)
			p.activeIDs = append(p.activeIDs, wh.ID)
		}
	}

	var st Settings
	if req.Settings != nil {
		st = *req.Settings
	}
	if !st.Percentage.IsZero() {
		bp, msg := percentageBasisPoints(st.Percentage)
		if msg != "" {
			probs.add("/settings/percentage", "%s", msg)
		}
		p.settings.Percentage = bp
	}
	if !st.MaxQuantity.IsZero() {
		v, ok := st.MaxQuantity.Int()
		switch {
		case !ok:
			probs.add("/settings/max_quantity", "must be an integer, got %s", st.MaxQuantity)
		case v < MinMaxQuantity || v > MaxMaxQuantity:
			probs.add("/settings/max_quantity", "must be between %d and %d, got %s", MinMaxQuantity, MaxMaxQuantity, st.MaxQuantity)
		default:
			p.settings.MaxQuantity = uint32(v)
		}
	}
	if req.Items == nil {
		probs.add("/items", "is required: send the items to compute, as an array")
	}
	p.planMappings(st.Mappings, whIndex, defaultWh, probs)
	return p, nil
}

// checkPlatformID refuses a location or warehouse id with control
// characters, a NUL or invalid UTF-8: ids are shown to merchants, sent to
// the platforms and stored, and no database keeps a NUL alike.
func checkPlatformID(list string, i int, id string, probs *problems) bool {
	if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		probs.add(ptr(list, i, "id"), "must be UTF-8 without control characters")
		return false
	}
	return true
}

// indexID records that id is element i of list, reporting an empty id, or
// one the list already has.
func indexID(index map[string]int, list string, i int, id string, probs *problems) {
	switch j, dup := index[id]; {
	case id == "":
		probs.add(ptr(list, i, "id"), "is required")
	case dup:
		probs.add(ptr(list, i, "id"), "duplicates the id of /%s/%d", list, j)
	default:
		index[id] = i
	}
}

func (p *plan) planMappings(mappings []Mapping, whIndex map[string]int, defaultWh int, probs *problems) {
	req := p.req
	defaulted := len(mappings) == 0
	if defaulted {
		if defaultWh < 0 {
			probs.add("/settings/mappings", "no mappings and no default warehouse: map locations to a warehouse, or mark one warehouse \"default\"")
			return
		}
		mappings = []Mapping{{Location: AllLocations, Warehouse: req.Warehouses[defaultWh].ID}}
	} else if len(mappings) > 1 {
		for i, m := range mappings {
			if m.Location == AllLocations {
				probs.add(ptr("settings", "mappings", i, "location"), "%q (every active location) must be the only mapping: combined with others it would count stock twice", AllLocations)
				return
			}
		}
	}
	feeds := make(map[string]int, len(mappings)) // location id -> mapping index
	for i, m := range mappings {
		field := ptr("settings", "mappings", i)
		w, ok := whIndex[m.Warehouse]
		if !ok {
			probs.add(field+"/warehouse", "names an unknown warehouse %q", m.Warehouse)
		}
		loc := abi.AllLocations
		if m.Location != AllLocations {
			l, known := p.locIndex[m.Location]
			if !known {
				probs.add(field+"/location", "names an unknown location %q", m.Location)
				continue
			}
			if j, dup := feeds[m.Location]; dup {
				if mappings[j].Warehouse == m.Warehouse {
					probs.add(field, "repeats /settings/mappings/%d", j)
				} else {
					probs.add(field+"/location", "location %q already feeds warehouse %q (/settings/mappings/%d): a location may feed one warehouse, or its stock is counted twice",
						m.Location, mappings[j].Warehouse, j)
				}
				continue
			}
			feeds[m.Location] = i
			loc = uint32(l)
		}
		if !ok {
			continue
		}
		p.mappings = append(p.mappings, [2]uint32{loc, uint32(w)})
		if defaulted {
			field = "/settings/mappings" // the default mapping is not in the request
		}
		p.warnMapping(field, loc, w)
	}
}

// warnMapping reports a mapping that publishes nothing because its
// location or warehouse is inactive.
func (p *plan) warnMapping(field string, loc uint32, w int) {
	wh := p.req.Warehouses[w]
	if !wh.Active.Or(true) {
		p.warnings = append(p.warnings, Warning{Code: "inactive_warehouse", Field: field,
			Message: fmt.Sprintf("warehouse %q is inactive: nothing is published to it", wh.ID)})
		return
	}
	if loc != abi.AllLocations {
		if l := p.req.Locations[loc]; !l.Active.Or(true) {
			p.warnings = append(p.warnings, Warning{Code: "inactive_location", Field: field,
				Message: fmt.Sprintf("location %q is inactive: its stock is not published to %q", l.ID, wh.ID)})
		}
		return
	}
	for _, l := range p.req.Locations {
		if l.Active.Or(true) {
			return
		}
	}
	p.warnings = append(p.warnings, Warning{Code: "no_active_location", Field: field,
		Message: fmt.Sprintf("no location is active: nothing is published to %q", wh.ID)})
}

// location returns the index of location id, the k-th of an item's stock.
// Items usually list locations in the request's order, so that guess is
// tried before the map. (Were the id a duplicate, the request is refused
// anyway.)
func (p *plan) location(k int, id string) (int, bool) {
	if k < len(p.req.Locations) && p.req.Locations[k].ID == id {
		return k, true
	}
	l, ok := p.locIndex[id]
	return l, ok
}

// encode encodes a batch into dst's storage: every item when items is nil,
// else the items listed, with their quantities so far from rows (indexed
// like the request's items, active warehouses only) when rows is not nil.
// With probs it also validates the items, adding what the caller must fix;
// without, they were validated before.
func (p *plan) encode(dst []byte, flags uint32, params []byte, items []int, rows []ItemResult, probs *problems) []byte {
	req := p.req
	n := len(req.Items)
	if items != nil {
		n = len(items)
	}
	item := func(j int) int {
		if items == nil {
			return j
		}
		return items[j]
	}
	c := abi.InputCounts{Items: n, Locations: len(req.Locations), Warehouses: len(req.Warehouses), Mappings: len(p.mappings)}
	strs := 0 // the string table's exact size, so it never grows by copying
	for _, l := range req.Locations {
		strs += len(l.ID)
	}
	for _, w := range req.Warehouses {
		strs += len(w.ID)
	}
	for j := range n {
		it := &req.Items[item(j)]
		c.Tags += len(it.Tags)
		strs += len(it.ID) + len(it.ProductID) + len(it.SKU)
		for _, t := range it.Tags {
			strs += len(t)
		}
	}
	settings := p.settings
	settings.Flags = flags
	b := abi.NewInputBuilder(dst, c, settings, params, strs)
	for i, loc := range req.Locations {
		var f uint32
		if loc.Active.Or(true) {
			f |= abi.LocationActive
		}
		b.SetLocation(i, loc.ID, f)
	}
	for i, wh := range req.Warehouses {
		var f uint32
		if wh.Active.Or(true) {
			f |= abi.WarehouseActive
		}
		if wh.Default {
			f |= abi.WarehouseDefault
		}
		b.SetWarehouse(i, wh.ID, f)
	}
	for i, m := range p.mappings {
		b.SetMapping(i, m[0], m[1])
	}

	var ids map[string]int
	if probs != nil {
		ids = make(map[string]int, len(req.Items))
	}
	for j := range n {
		i := item(j)
		it := &req.Items[i]
		if probs != nil {
			indexID(ids, "items", i, it.ID, probs)
		}
		var f uint32
		if it.Tracked.Or(true) {
			f |= abi.ItemTracked
		}
		if it.ContinueSelling {
			f |= abi.ItemContinueSelling
		}
		b.SetItem(j, f, it.ID, it.ProductID, it.SKU, it.Tags)
		for k, e := range it.Available {
			l, ok := p.location(k, e.Location)
			if !ok {
				probs.add(ptr("items", i, "available", e.Location), "names an unknown location %q", e.Location)
				continue
			}
			if e.Quantity.IsZero() {
				continue // null: nothing known, nothing published
			}
			v, msg := int32Of(e.Quantity)
			if msg != "" {
				probs.add(ptr("items", i, "available", e.Location), "%s", msg)
				continue
			}
			b.SetAvailable(j, l, v)
		}
		if rows != nil {
			for k, w := range p.active {
				b.SetQuantity(j, w, rows[i].Quantities.values[k])
			}
		}
	}
	return b.Bytes()
}

func (p *plan) response() *Response {
	items := make([]ItemResult, len(p.req.Items))
	for i := range items {
		items[i].ID = p.req.Items[i].ID
	}
	warnings := p.warnings
	if warnings == nil {
		warnings = []Warning{}
	}
	return &Response{Items: items, Warnings: warnings}
}

// read checks the default rule's output and fills resp. Every quantity must
// be within [0, max_quantity], and inactive warehouses must get 0.
func (p *plan) read(out []byte, resp *Response, explain bool) error {
	n, nw := len(p.req.Items), len(p.req.Warehouses)
	fail := func(err error) error { return &RuleError{Rule: DefaultRuleName, Err: err} }
	o, err := abi.ParseOutput(out, n, nw)
	if err != nil {
		return fail(err)
	}
	if msg, failed := o.Failed(); failed {
		return fail(errors.New(msg))
	}
	na := len(p.active)
	values := make([]int32, n*na)
	activeAt := make([]bool, nw)
	for _, w := range p.active {
		activeAt[w] = true
	}
	maxQ := int32(p.settings.MaxQuantity)
	for i := range n {
		row := values[i*na : (i+1)*na : (i+1)*na]
		for w := range nw {
			q := o.Quantity(i, w)
			if !activeAt[w] {
				if q != 0 {
					return fail(fmt.Errorf("%w: item %d has quantity %d in inactive warehouse %q", abi.ErrContract, i, q, p.req.Warehouses[w].ID))
				}
				continue
			}
			if q < 0 || q > maxQ {
				return fail(fmt.Errorf("%w: item %d has quantity %d in warehouse %q, outside [0, %d]", abi.ErrContract, i, q, p.req.Warehouses[w].ID, maxQ))
			}
		}
		for k, w := range p.active {
			row[k] = o.Quantity(i, w)
		}
		resp.Items[i].Quantities = Quantities{names: p.activeIDs, values: row, set: true}
	}
	for k := range o.NumItemErrors() {
		i, msg := o.ItemError(k)
		resp.Items[i].Quantities = Quantities{}
		resp.Items[i].Error = &ItemError{Rule: DefaultRuleName, Code: "rule_failed", Detail: msg}
	}
	if !explain {
		return nil
	}
	return p.readNotes(o, resp)
}

func (p *plan) readNotes(o *abi.Output, resp *Response) error {
	stages := make([]Stage, len(resp.Items))
	for i := range stages {
		stages[i] = Stage{Stage: DefaultRuleName, Quantities: resp.Items[i].Quantities}
	}
	if err := p.collectNotes(o, func(i int) *Stage { return &stages[i] }, nil); err != nil {
		return &RuleError{Rule: DefaultRuleName, Err: err}
	}
	for i := range resp.Items {
		resp.Items[i].Trace = append(resp.Items[i].Trace, stages[i])
	}
	return nil
}

// Bounds of a plugin's notes, which it writes as it likes: per item and
// stage, and per response, in bytes as noteSize counts them. A note past
// them is dropped and the stage marked NotesTruncated. The default rule's
// notes are the host's own and not bounded. See RATIONALE.md, "Why at most
// 16 notes and 1 KiB per item, and 4 MiB per response?".
const (
	maxItemNotes     = 16
	maxItemNoteBytes = 1 << 10
	// MaxNoteBytes is the default bound of a response's plugin notes.
	MaxNoteBytes = 4 << 20
)

// noteSize is about what a note's attributes take in JSON: their keys and
// values, 8 bytes a number.
func noteSize(attrs []abi.Attr) int {
	n := 0
	for _, a := range attrs {
		n += len(a.Key) + 4
		switch a.Kind {
		case abi.KindString:
			n += len(a.String)
		case abi.KindGroup:
			n += noteSize(a.Group)
		default:
			n += 8
		}
	}
	return n
}

// collectNotes adds an output's notes to the stages of its items; notes
// about inactive warehouses are dropped, as nothing is published there.
// With left, the notes are a plugin's: they are bounded per item, and
// in all by *left bytes, which they spend.
func (p *plan) collectNotes(o *abi.Output, stage func(j int) *Stage, left *int) error {
	for k := range o.NumNotes() {
		j, w, attrs, err := o.Note(k)
		if err != nil {
			return err
		}
		st := stage(j)
		if left != nil {
			size := noteSize(attrs)
			if st.notes >= maxItemNotes || st.noteBytes+size > maxItemNoteBytes || size > *left {
				st.NotesTruncated = true
				continue
			}
			st.notes++
			st.noteBytes += size
			*left -= size
		}
		if w < 0 {
			st.Item = mergeAttrs(st.Item, attrs)
			continue
		}
		if col := p.columns[w]; col >= 0 {
			st.Warehouses.add(p.activeIDs, col, attrs)
		}
	}
	return nil
}

// isActive reports whether warehouse w is in the result.
func (p *plan) isActive(w int) bool { return p.columns[w] >= 0 }

// column returns warehouse w's column in the result.
func (p *plan) column(w int) int { return p.columns[w] }
