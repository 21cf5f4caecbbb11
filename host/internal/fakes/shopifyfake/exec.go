package shopifyfake

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// executor answers a checked document from the shop's state; the caller
// holds the state's lock. cost is the actual query cost so far.
type executor struct {
	s       *Server
	c       *checker
	baseURL string
	cost    int
	errs    []*gqlError
	bulk    *bulkRun // set while a bulk operation writes its lines
}

// omit is a field value that a bulk line leaves out (a nested connection,
// whose objects get lines of their own).
type omit struct{}

type count struct{ n int }

type quantity struct {
	name string
	q    int
}

type levelRef struct {
	item *item
	loc  *location
}

type pageInfo struct {
	hasNext          bool
	startCur, endCur string
}

type userError struct {
	field         []string
	code, message string
}

func (e *executor) fail(err *gqlError) { e.errs = append(e.errs, err) }

// object resolves sels on obj of type typ; charge counts the object in the
// actual cost.
func (e *executor) object(typ string, obj any, sels []selection, path []string, charge bool) map[string]any {
	if charge {
		e.cost++
	}
	runtime := typ
	if typ == "Node" {
		runtime = nodeType(obj)
	}
	out := map[string]any{}
	for _, s := range e.c.fields(runtime, sels) {
		v := e.field(runtime, obj, s, append(slices.Clip(path), s.alias))
		if _, skip := v.(omit); skip {
			continue
		}
		if prev, ok := out[s.alias].(map[string]any); ok {
			if m, ok := v.(map[string]any); ok {
				for k, x := range m {
					prev[k] = x
				}
				continue
			}
		}
		out[s.alias] = v
	}
	return out
}

func nodeType(obj any) string {
	switch obj.(type) {
	case *location:
		return "Location"
	case *product:
		return "Product"
	case *variant:
		return "ProductVariant"
	case *item:
		return "InventoryItem"
	case levelRef:
		return "InventoryLevel"
	case *bulkOperation:
		return "BulkOperation"
	}
	return "Node"
}

func (e *executor) field(typ string, obj any, s selection, path []string) any {
	if s.name == "__typename" {
		return typ
	}
	args, err := e.c.args(s)
	if err != nil {
		e.fail(err)
		return nil
	}
	def := schema[typ][s.name]
	v := e.value(typ, obj, s.name, args, path)
	if v == nil || def.kind == scalar {
		return v
	}
	switch def.kind {
	case object:
		return e.object(def.typ, v, s.sel, path, true)
	case list:
		items := v.([]any)
		if s.name != "nodes" {
			e.cost++ // a list of small objects costs one
		}
		out := make([]any, len(items))
		for i, it := range items {
			if it != nil {
				out[i] = e.object(def.typ, it, s.sel, append(path, fmt.Sprint(i)), s.name == "nodes")
			}
		}
		return out
	}
	conn := v.(connectionItems)
	if e.bulk != nil {
		e.bulk.nested(e, def.typ, conn, s, path)
		return omit{}
	}
	return e.connection(def.typ, conn, args, s, path)
}

// connectionItems are a connection's objects in order with their cursor
// keys.
type connectionItems struct {
	keys  []string
	items []any
}

func cursorOf(key string) string { return base64.RawURLEncoding.EncodeToString([]byte("fake:" + key)) }

func (e *executor) connection(typ string, conn connectionItems, args map[string]any, s selection, path []string) any {
	e.cost += 2
	start := 0
	if after, ok := asString(args["after"]); ok {
		raw, err := base64.RawURLEncoding.DecodeString(after)
		key, found := strings.CutPrefix(string(raw), "fake:")
		i := slices.Index(conn.keys, key)
		if err != nil || !found || i < 0 {
			e.fail(errorf(path, "invalidCursor", "Invalid cursor for current pagination"))
			return nil
		}
		start = i + 1
	}
	end := len(conn.items)
	if first, ok := asInt(args["first"]); ok {
		end = min(end, start+first)
	}
	page := conn.items[start:end]
	keys := conn.keys[start:end]
	info := pageInfo{hasNext: end < len(conn.items)}
	if len(keys) > 0 {
		info.startCur, info.endCur = cursorOf(keys[0]), cursorOf(keys[len(keys)-1])
	}
	out := map[string]any{}
	for _, cs := range s.sel {
		p := append(slices.Clip(path), cs.alias)
		switch cs.name {
		case "__typename":
			out[cs.alias] = typ + "Connection"
		case "pageInfo":
			pi := map[string]any{}
			for _, f := range e.c.fields("PageInfo", cs.sel) {
				switch f.name {
				case "__typename":
					pi[f.alias] = "PageInfo"
				case "hasNextPage":
					pi[f.alias] = info.hasNext
				case "hasPreviousPage":
					pi[f.alias] = start > 0
				case "startCursor":
					pi[f.alias] = nullable(info.startCur)
				case "endCursor":
					pi[f.alias] = nullable(info.endCur)
				}
			}
			out[cs.alias] = pi
		case "nodes":
			nodes := make([]any, len(page))
			for i, it := range page {
				nodes[i] = e.object(typ, it, cs.sel, append(p, fmt.Sprint(i)), true)
			}
			out[cs.alias] = nodes
		case "edges":
			edges := make([]any, len(page))
			for i, it := range page {
				edge := map[string]any{}
				for _, es := range e.c.fields("Edge", cs.sel) {
					switch es.name {
					case "__typename":
						edge[es.alias] = typ + "Edge"
					case "cursor":
						edge[es.alias] = cursorOf(keys[i])
					case "node":
						edge[es.alias] = e.object(typ, it, es.sel, append(p, fmt.Sprint(i), es.alias), true)
					}
				}
				edges[i] = edge
			}
			out[cs.alias] = edges
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// value is the raw value of a field: a scalar, an object, []any for a list
// or connectionItems for a connection; nil for null.
func (e *executor) value(typ string, obj any, name string, args map[string]any, path []string) any {
	st := e.s
	switch o := obj.(type) {
	case nil: // the query root
		switch name {
		case "shop":
			return &st.shop
		case "locations":
			var c connectionItems
			inactive, _ := args["includeInactive"].(bool)
			for _, l := range st.locations {
				if l.active || inactive {
					c.keys, c.items = append(c.keys, l.id), append(c.items, l)
				}
			}
			return c
		case "location":
			return e.lookup(args["id"], "Location", path)
		case "productVariants":
			var c connectionItems
			for _, v := range st.variants {
				c.keys, c.items = append(c.keys, v.id), append(c.items, v)
			}
			return c
		case "productVariant":
			return e.lookup(args["id"], "ProductVariant", path)
		case "inventoryItem":
			return e.lookup(args["id"], "InventoryItem", path)
		case "productVariantsCount":
			return count{len(st.variants)}
		case "productsCount":
			return count{len(st.products)}
		case "node":
			return e.lookup(args["id"], "", path)
		case "nodes":
			ids, _ := asStrings(args["ids"])
			out := make([]any, len(ids))
			for i, id := range ids {
				out[i] = e.lookup(id, "", append(path, fmt.Sprint(i)))
			}
			return out
		case "currentBulkOperation":
			if st.bulk == nil {
				return nil
			}
			return st.bulk
		case "bulkOperationRunQuery":
			return e.s.runBulk(e, args, path)
		}
	case *bulkPayload:
		switch name {
		case "bulkOperation":
			if o.op == nil {
				return nil
			}
			return o.op
		case "userErrors":
			out := []any{}
			for _, u := range o.errors {
				out = append(out, u)
			}
			return out
		}
	case userError:
		switch name {
		case "field":
			if o.field == nil {
				return nil
			}
			return o.field
		case "message":
			return o.message
		case "code":
			return nullable(o.code)
		}
	case *shopInfo:
		switch name {
		case "id":
			return gid("Shop", o.id)
		case "name":
			return o.name
		case "myshopifyDomain":
			return o.domain
		}
	case *location:
		switch name {
		case "id":
			return gid("Location", o.id)
		case "legacyResourceId":
			return o.id
		case "name":
			return o.name
		case "isActive":
			return o.active
		}
	case *product:
		switch name {
		case "id":
			return gid("Product", o.id)
		case "legacyResourceId":
			return o.id
		case "title":
			return o.title
		case "tags":
			return slices.Clone(o.tags)
		}
	case *variant:
		switch name {
		case "id":
			return gid("ProductVariant", o.id)
		case "legacyResourceId":
			return o.id
		case "sku":
			return o.sku
		case "title":
			return o.title
		case "displayName":
			return o.product.title + " - " + o.title
		case "inventoryPolicy":
			return o.policy
		case "product":
			return o.product
		case "inventoryItem":
			return o.item
		}
	case *item:
		switch name {
		case "id":
			return gid("InventoryItem", o.id)
		case "legacyResourceId":
			return o.id
		case "sku":
			return o.variant.sku
		case "tracked":
			return o.tracked
		case "variant":
			return o.variant
		case "inventoryLevels":
			var c connectionItems
			for _, l := range st.locations {
				if _, ok := o.levels[l.id]; ok {
					c.keys, c.items = append(c.keys, l.id), append(c.items, levelRef{o, l})
				}
			}
			return c
		case "inventoryLevel":
			l, ok := e.lookup(args["locationId"], "Location", path).(*location)
			if !ok {
				return nil
			}
			if _, stocked := o.levels[l.id]; !stocked {
				return nil
			}
			return levelRef{o, l}
		}
	case levelRef:
		switch name {
		case "id":
			return levelGID(o.item.id, o.loc.id)
		case "isActive":
			return true
		case "location":
			return o.loc
		case "item":
			return o.item
		case "quantities":
			names, _ := asStrings(args["names"])
			out := []any{}
			for _, n := range names {
				q := 0
				if n == "available" || n == "on_hand" {
					q = o.item.levels[o.loc.id]
				}
				out = append(out, quantity{n, q})
			}
			return out
		}
	case quantity:
		switch name {
		case "name":
			return o.name
		case "quantity":
			return o.q
		}
	case count:
		switch name {
		case "count":
			return o.n
		case "precision":
			return "EXACT"
		}
	case *bulkOperation:
		return o.field(name, e.baseURL)
	}
	return nil
}

// lookup finds an object by global id; want "" accepts any node type.
func (e *executor) lookup(v any, want string, path []string) any {
	id, ok := asString(v)
	if !ok {
		e.fail(errorf(path, "missingRequiredArguments", "an id is required"))
		return nil
	}
	typ, num, ok := parseGID(id)
	if !ok {
		e.fail(errorf(path, "argumentLiteralsIncompatible", "Invalid global id '%s'", id))
		return nil
	}
	if want != "" && typ != want {
		e.fail(errorf(path, "argumentLiteralsIncompatible", "Invalid global id '%s': expected a %s", id, want))
		return nil
	}
	st := e.s
	switch typ {
	case "Location":
		if l := st.locByID[num]; l != nil {
			return l
		}
	case "Product":
		if p := st.products[num]; p != nil {
			return p
		}
	case "ProductVariant":
		if v := st.variantByID[num]; v != nil {
			return v
		}
	case "InventoryItem":
		if it := st.itemByID[num]; it != nil {
			return it
		}
	case "InventoryLevel":
		itemID := ""
		if _, q, found := strings.Cut(id, "?inventory_item_id="); found {
			itemID = q
		}
		it, l := st.itemByID[itemID], st.locByID[num]
		if it != nil && l != nil {
			if _, ok := it.levels[l.id]; ok {
				return levelRef{it, l}
			}
		}
	case "BulkOperation":
		if st.bulk != nil && st.bulk.id == num {
			return st.bulk
		}
	}
	return nil
}

func gid(typ, id string) string { return "gid://shopify/" + typ + "/" + id }

func levelGID(itemID, locID string) string {
	return gid("InventoryLevel", locID) + "?inventory_item_id=" + itemID
}

// parseGID splits gid://shopify/Type/123 (a query string allowed).
func parseGID(id string) (typ, num string, ok bool) {
	rest, ok := strings.CutPrefix(id, "gid://shopify/")
	if !ok {
		return "", "", false
	}
	rest, _, _ = strings.Cut(rest, "?")
	typ, num, ok = strings.Cut(rest, "/")
	if !ok || typ == "" || num == "" || strings.Contains(num, "/") {
		return "", "", false
	}
	return typ, num, true
}

// idNumber accepts a numeric id or a global id of typ and returns the
// number.
func idNumber(id, typ string) string {
	if t, n, ok := parseGID(id); ok && t == typ {
		return n
	}
	return id
}
