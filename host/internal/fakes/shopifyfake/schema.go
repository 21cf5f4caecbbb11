package shopifyfake

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The part of the Admin GraphQL schema the fake serves. A field missing
// here answers "Field 'x' doesn't exist on type 'Y'" (code undefinedField),
// as Shopify answers a field that does not exist, so that a client that
// starts using a new field fails loudly until the fake learns it.

type fieldKind int

const (
	scalar     fieldKind = iota
	object               // one object, cost 1
	connection           // edges/nodes/pageInfo, cost 2 + first × node
	list                 // a list of objects, cost 1 per element (nodes: per id)
)

type fieldDef struct {
	kind fieldKind
	typ  string   // the object type (for object, connection, list)
	args []string // accepted arguments
}

// maxPageSize is the most a connection returns at once; maxNodes the most
// ids nodes(ids:) takes.
const (
	maxPageSize = 250
	maxNodes    = 250
)

// nodeTypes can be fetched by node(id:) and nodes(ids:).
var nodeTypes = []string{"Location", "Product", "ProductVariant", "InventoryItem", "InventoryLevel", "BulkOperation"}

var schema = map[string]map[string]fieldDef{
	"QueryRoot": {
		"shop":                 {object, "Shop", nil},
		"locations":            {connection, "Location", []string{"first", "after", "includeInactive", "includeLegacy"}},
		"location":             {object, "Location", []string{"id"}},
		"productVariants":      {connection, "ProductVariant", []string{"first", "after"}},
		"productVariant":       {object, "ProductVariant", []string{"id"}},
		"productVariantsCount": {object, "Count", nil},
		"productsCount":        {object, "Count", nil},
		"inventoryItem":        {object, "InventoryItem", []string{"id"}},
		"nodes":                {list, "Node", []string{"ids"}},
		"node":                 {object, "Node", []string{"id"}},
		"currentBulkOperation": {object, "BulkOperation", []string{"type"}},
	},
	"Mutation": {
		"bulkOperationRunQuery": {object, "BulkOperationRunQueryPayload", []string{"query", "groupObjects"}},
	},
	"BulkOperationRunQueryPayload": {
		"bulkOperation": {object, "BulkOperation", nil},
		"userErrors":    {list, "BulkOperationUserError", nil},
	},
	"BulkOperationUserError": {"field": {}, "message": {}, "code": {}},
	"Shop":                   {"id": {}, "name": {}, "myshopifyDomain": {}},
	"Location":               {"id": {}, "legacyResourceId": {}, "name": {}, "isActive": {}},
	"Product":                {"id": {}, "legacyResourceId": {}, "title": {}, "tags": {}},
	"ProductVariant": {
		"id": {}, "legacyResourceId": {}, "sku": {}, "title": {}, "displayName": {}, "inventoryPolicy": {},
		"product":       {object, "Product", nil},
		"inventoryItem": {object, "InventoryItem", nil},
	},
	"InventoryItem": {
		"id": {}, "legacyResourceId": {}, "sku": {}, "tracked": {},
		"variant":         {object, "ProductVariant", nil},
		"inventoryLevels": {connection, "InventoryLevel", []string{"first", "after", "includeInactive"}},
		"inventoryLevel":  {object, "InventoryLevel", []string{"locationId", "includeInactive"}},
	},
	"InventoryLevel": {
		"id": {}, "isActive": {},
		"location":   {object, "Location", nil},
		"item":       {object, "InventoryItem", nil},
		"quantities": {list, "InventoryQuantity", []string{"names"}},
	},
	"InventoryQuantity": {"name": {}, "quantity": {}},
	"Count":             {"count": {}, "precision": {}},
	"BulkOperation": {
		"id": {}, "status": {}, "errorCode": {}, "createdAt": {}, "completedAt": {}, "objectCount": {},
		"rootObjectCount": {}, "fileSize": {}, "url": {}, "partialDataUrl": {}, "query": {}, "type": {},
	},
	"PageInfo": {"hasNextPage": {}, "hasPreviousPage": {}, "startCursor": {}, "endCursor": {}},
	"Node":     {"id": {}},
}

// unsupportedArgs are real arguments the fake does not implement: they
// fail with a message saying so, not as if they did not exist.
var unsupportedArgs = []string{"last", "before", "reverse", "query", "sortKey", "savedSearchId"}

// quantityNames are the names quantities(names:) accepts.
var quantityNames = []string{"available", "on_hand", "committed", "reserved", "incoming"}

// gqlError is one entry of a GraphQL answer's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []string       `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (e *gqlError) Error() string { return e.Message }

func errorf(path []string, code, format string, args ...any) *gqlError {
	return &gqlError{Message: fmt.Sprintf(format, args...), Path: slices.Clone(path), Extensions: map[string]any{"code": code}}
}

// checker validates a document against the schema and computes its
// requested cost.
type checker struct {
	doc  *document
	vars map[string]any
	bulk bool // a bulk operation's query: connections need no first
}

// resolveVars merges the request's variables with the defaults and
// checks that every variable used is declared.
func resolveVars(doc *document, given map[string]json.RawMessage) (map[string]any, *gqlError) {
	vars := map[string]any{}
	for _, v := range doc.vars {
		if raw, ok := given[v.name]; ok {
			var val any
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			if err := dec.Decode(&val); err != nil {
				return nil, errorf(nil, "variableMismatch", "Variable $%s has an invalid value", v.name)
			}
			vars[v.name] = val
		} else if v.has {
			vars[v.name] = v.def
		} else {
			vars[v.name] = nil
		}
	}
	return vars, nil
}

// value resolves an argument value, replacing variables.
func (c *checker) value(v any) (any, *gqlError) {
	switch v := v.(type) {
	case varRef:
		val, ok := c.vars[string(v)]
		if !ok {
			return nil, errorf(nil, "variableNotDefined", "Variable $%s is used but not declared", string(v))
		}
		return val, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// args resolves a field's arguments.
func (c *checker) args(s selection) (map[string]any, *gqlError) {
	out := map[string]any{}
	for k, v := range s.args {
		r, err := c.value(v)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out[k] = r
		}
	}
	return out, nil
}

// asInt reads an integer argument.
func asInt(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		return int(v), true
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	case float64:
		if v == math.Trunc(v) {
			return int(v), true
		}
	}
	return 0, false
}

func asString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case enumValue:
		return string(v), true
	}
	return "", false
}

func asStrings(v any) ([]string, bool) {
	if s, ok := asString(v); ok { // GraphQL coerces one value to a list
		return []string{s}, true
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(l))
	for i, e := range l {
		if out[i], ok = asString(e); !ok {
			return nil, false
		}
	}
	return out, true
}

// fields flattens a selection set for the runtime type typ: inline
// fragments that apply, and named fragments.
func (c *checker) fields(typ string, sels []selection) []selection {
	var out []selection
	for _, s := range sels {
		if !s.fragment {
			out = append(out, s)
			continue
		}
		on, sub := s.on, s.sel
		if s.spread != "" {
			f := c.doc.fragments[s.spread]
			on, sub = f.on, f.sel
		}
		if on == "" || on == typ || on == "Node" {
			out = append(out, c.fields(typ, sub)...)
		}
	}
	return out
}

// check validates sels on type typ and returns their requested cost.
func (c *checker) check(typ string, sels []selection, path []string) (int, *gqlError) {
	cost, fragmentCost := 0, 0
	for _, s := range sels {
		if s.fragment {
			on, sub := s.on, s.sel
			if s.spread != "" {
				f, ok := c.doc.fragments[s.spread]
				if !ok {
					return 0, errorf(path, "useAndDefineFragment", "Fragment %s was used, but not defined", s.spread)
				}
				on, sub = f.on, f.sel
			}
			if on == "" {
				on = typ
			}
			if on != typ && !(typ == "Node" && slices.Contains(nodeTypes, on)) && on != "Node" {
				if _, known := schema[on]; !known {
					return 0, errorf(path, "undefinedType", "No such type %s, so it can't be a fragment condition", on)
				}
				return 0, errorf(path, "fragmentSpreadImpossible", "Fragment on %s can't be spread inside %s", on, typ)
			}
			n, err := c.check(on, sub, path)
			if err != nil {
				return 0, err
			}
			if typ == "Node" && on != "Node" {
				fragmentCost = max(fragmentCost, n) // an interface costs its most expensive possible selection
			} else {
				cost += n
			}
			continue
		}
		n, err := c.checkField(typ, s, append(path, s.alias))
		if err != nil {
			return 0, err
		}
		cost += n
	}
	return cost + fragmentCost, nil
}

func (c *checker) checkField(typ string, s selection, path []string) (int, *gqlError) {
	if s.name == "__typename" {
		return 0, nil
	}
	def, ok := schema[typ][s.name]
	if !ok {
		return 0, &gqlError{
			Message: fmt.Sprintf("Field '%s' doesn't exist on type '%s'", s.name, typ), Path: slices.Clone(path),
			Extensions: map[string]any{"code": "undefinedField", "typeName": typ, "fieldName": s.name},
		}
	}
	for a := range s.args {
		if slices.Contains(def.args, a) {
			continue
		}
		if slices.Contains(unsupportedArgs, a) {
			return 0, errorf(path, "argumentNotSupportedByFake", "Argument '%s' on field '%s' is not supported by the fake Shopify", a, s.name)
		}
		return 0, errorf(path, "argumentNotAccepted", "Field '%s' doesn't accept argument '%s'", s.name, a)
	}
	args, err := c.args(s)
	if err != nil {
		return 0, err
	}
	if def.kind == scalar {
		if len(s.sel) > 0 {
			return 0, errorf(path, "selectionMismatch", "Selections can't be made on scalars (field '%s' returns a scalar but has selections)", s.name)
		}
		return 0, nil
	}
	if len(s.sel) == 0 {
		return 0, errorf(path, "selectionMismatch", "Field must have selections (field '%s' returns %s but has no selections)", s.name, def.typ)
	}
	switch def.kind {
	case object:
		n, err := c.check(def.typ, s.sel, path)
		return 1 + n, err
	case list:
		n, err := c.check(def.typ, s.sel, path)
		if err != nil {
			return 0, err
		}
		if s.name == "nodes" {
			ids, ok := asStrings(args["ids"])
			if !ok {
				return 0, errorf(path, "missingRequiredArguments", "Field 'nodes' is missing required arguments: ids")
			}
			if len(ids) > maxNodes {
				return 0, errorf(path, "maxInputSizeExceeded", "The input array size of %d is greater than the maximum allowed of %d.", len(ids), maxNodes)
			}
			return len(ids) * (1 + n), nil
		}
		if s.name == "quantities" {
			names, ok := asStrings(args["names"])
			if !ok {
				return 0, errorf(path, "missingRequiredArguments", "Field 'quantities' is missing required arguments: names")
			}
			for _, n := range names {
				if !slices.Contains(quantityNames, n) {
					return 0, errorf(path, "invalidQuantityName", "The quantity name '%s' is not supported (the fake knows %s)", n, strings.Join(quantityNames, ", "))
				}
			}
		}
		return 1 + n, nil
	}
	// A connection.
	first, hasFirst := asInt(args["first"])
	if _, present := args["first"]; present && !hasFirst {
		return 0, errorf(path, "argumentLiteralsIncompatible", "Argument 'first' on Field '%s' has an invalid value. Expected type 'Int'.", s.name)
	}
	switch {
	case !hasFirst && !c.bulk:
		return 0, errorf(path, "missingFirstOrLast", "you must provide one of first or last")
	case hasFirst && (first < 0 || first > maxPageSize):
		return 0, errorf(path, "argumentOutOfRange", "The 'first' argument of '%s' must be between 0 and %d", s.name, maxPageSize)
	case c.bulk:
		first = 1
	}
	nodeCost := 0
	for _, cs := range s.sel {
		if cs.fragment {
			return 0, errorf(path, "fragmentSpreadImpossible", "fragments directly on a connection are not supported by the fake")
		}
		p := append(path, cs.alias)
		switch cs.name {
		case "__typename":
		case "pageInfo":
			if _, err := c.check("PageInfo", cs.sel, p); err != nil {
				return 0, err
			}
		case "nodes":
			n, err := c.check(def.typ, cs.sel, p)
			if err != nil {
				return 0, err
			}
			nodeCost = max(nodeCost, 1+n)
		case "edges":
			for _, es := range c.fields("Edge", cs.sel) {
				ep := append(p, es.alias)
				switch es.name {
				case "__typename", "cursor":
				case "node":
					n, err := c.check(def.typ, es.sel, ep)
					if err != nil {
						return 0, err
					}
					nodeCost = max(nodeCost, 1+n)
				default:
					return 0, &gqlError{Message: fmt.Sprintf("Field '%s' doesn't exist on type '%sEdge'", es.name, def.typ), Path: ep,
						Extensions: map[string]any{"code": "undefinedField", "typeName": def.typ + "Edge", "fieldName": es.name}}
				}
			}
		default:
			return 0, &gqlError{Message: fmt.Sprintf("Field '%s' doesn't exist on type '%sConnection'", cs.name, def.typ), Path: p,
				Extensions: map[string]any{"code": "undefinedField", "typeName": def.typ + "Connection", "fieldName": cs.name}}
		}
	}
	return 2 + first*nodeCost, nil
}
