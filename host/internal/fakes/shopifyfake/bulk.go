package shopifyfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

type bulkOperation struct {
	id, query   string
	created     time.Time
	done        time.Time // when it reports COMPLETED
	objects     int
	roots       int
	size        int
	justCreated bool // the mutation's own answer says CREATED
	now         func() time.Time
}

type bulkPayload struct {
	op     *bulkOperation
	errors []userError
}

func (b *bulkOperation) completed() bool { return !b.now().Before(b.done) }

func (b *bulkOperation) field(name, base string) any {
	switch name {
	case "id":
		return gid("BulkOperation", b.id)
	case "status":
		switch {
		case b.justCreated:
			return "CREATED"
		case b.completed():
			return "COMPLETED"
		}
		return "RUNNING"
	case "errorCode", "partialDataUrl":
		return nil
	case "createdAt":
		return b.created.UTC().Format(time.RFC3339)
	case "completedAt":
		if b.justCreated || !b.completed() {
			return nil
		}
		return b.done.UTC().Format(time.RFC3339)
	case "objectCount", "rootObjectCount", "fileSize":
		if b.justCreated || !b.completed() {
			if name == "fileSize" {
				return nil
			}
			return "0"
		}
		n := map[string]int{"objectCount": b.objects, "rootObjectCount": b.roots, "fileSize": b.size}[name]
		if name == "fileSize" && n == 0 {
			return nil
		}
		return strconv.Itoa(n)
	case "url":
		if b.justCreated || !b.completed() || b.objects == 0 {
			return nil
		}
		return base + "/_bulk/" + b.id + ".jsonl"
	case "query":
		return b.query
	case "type":
		return "QUERY"
	}
	return nil
}

// bulkRun collects a bulk operation's JSONL lines.
type bulkRun struct {
	lines   []map[string]any
	parent  string // id of the line being written
	missing string // a nested connection whose parent selects no id
}

// runBulk is bulkOperationRunQuery: it runs the query now over the whole
// shop and keeps the JSONL.
func (s *Server) runBulk(e *executor, args map[string]any, path []string) any {
	query, _ := asString(args["query"])
	fail := func(code, format string, a ...any) any {
		return &bulkPayload{errors: []userError{{field: []string{"query"}, code: code, message: fmt.Sprintf(format, a...)}}}
	}
	if s.bulk != nil && !s.bulk.completed() {
		return fail("OPERATION_IN_PROGRESS", "A bulk query operation for this app and shop is already in progress: %s.", gid("BulkOperation", s.bulk.id))
	}
	doc, err := parseDocument(query, "")
	if err != nil {
		return fail("INVALID", "Invalid bulk query: %v", err)
	}
	if doc.op != "query" || len(doc.vars) > 0 {
		return fail("INVALID", "Invalid bulk query: a bulk operation runs one query without variables")
	}
	c := &checker{doc: doc, vars: map[string]any{}, bulk: true}
	if _, gerr := c.check("QueryRoot", doc.sel, nil); gerr != nil {
		return fail("INVALID", "Invalid bulk query: %s", gerr.Message)
	}
	top := c.fields("QueryRoot", doc.sel)
	if len(top) != 1 || schema["QueryRoot"][top[0].name].kind != connection {
		return fail("INVALID", "Invalid bulk query: Bulk queries must contain exactly one top-level connection field")
	}
	run := &bulkRun{}
	be := &executor{s: s, c: c, baseURL: e.baseURL, bulk: run}
	v := be.value("QueryRoot", nil, top[0].name, map[string]any{}, path)
	run.nested(be, schema["QueryRoot"][top[0].name].typ, v.(connectionItems), top[0], nil)
	if run.missing != "" {
		return fail("INVALID", "Invalid bulk query: The parent 'node' field for a nested connection must select the 'id' field. Connection fields without 'id': %s.", run.missing)
	}
	if len(be.errs) > 0 {
		return fail("INVALID", "Invalid bulk query: %s", be.errs[0].Message)
	}
	var buf bytes.Buffer
	roots := 0
	for _, l := range run.lines {
		if _, child := l["__parentId"]; !child {
			roots++
		}
		b, _ := json.Marshal(l)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.bulkSeq++
	now := s.now()
	op := &bulkOperation{
		id: strconv.Itoa(9007199254740993 + s.bulkSeq), query: query, created: now, done: now.Add(s.opts.BulkDuration),
		objects: len(run.lines), roots: roots, size: buf.Len(), now: s.now,
	}
	s.bulk = op
	s.bulkData[op.id] = buf.Bytes()
	view := *op
	view.justCreated = true
	return &bulkPayload{op: &view}
}

// nested writes a connection's objects as lines whose __parentId is the
// line being written (none at the top).
func (r *bulkRun) nested(e *executor, typ string, conn connectionItems, s selection, path []string) {
	var nodeSel []selection
	for _, cs := range s.sel {
		switch cs.name {
		case "nodes":
			nodeSel = append(nodeSel, cs.sel...)
		case "edges":
			for _, es := range e.c.fields("Edge", cs.sel) {
				if es.name == "node" {
					nodeSel = append(nodeSel, es.sel...)
				}
			}
		}
	}
	parent := r.parent
	if parent == "" && path != nil && r.missing == "" {
		r.missing = s.alias
	}
	for _, it := range conn.items {
		at := len(r.lines)
		r.lines = append(r.lines, nil) // the parent's line comes before its children's
		id, _ := e.value(typ, it, "id", nil, nil).(string)
		r.parent = ""
		if selectsID(e.c.fields(typ, nodeSel)) {
			r.parent = id
		}
		line := e.object(typ, it, nodeSel, path, false)
		if parent != "" {
			line["__parentId"] = parent
		}
		r.lines[at] = line
	}
	r.parent = parent
}

func selectsID(sels []selection) bool {
	for _, s := range sels {
		if s.name == "id" && s.alias == "id" {
			return true
		}
	}
	return false
}
