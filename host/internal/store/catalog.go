package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// A shop's catalog is two tables, catalog_variants and catalog_tiktok_skus,
// keyed by (shop, id). Each row carries the run that last read it and its
// link; imports rewrite a row's platform columns and keep its link, which
// only SetLinks writes. Tags, warehouses and quantities are JSON, as
// locations are in shops.

// ShopByDomain returns the shop whose shopify_domain is domain, or
// ErrNotFound.
func (s *Store) ShopByDomain(ctx context.Context, domain string) (shop.Shop, error) {
	notFound := fmt.Errorf("shop with shopify_domain %q: %w", domain, ErrNotFound)
	if domain == "" || checkText(domain) != nil {
		return shop.Shop{}, notFound
	}
	sh, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE shopify_domain = $1`, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return shop.Shop{}, notFound
	}
	if err != nil {
		return shop.Shop{}, fmt.Errorf("read the shop of domain %q: %w", domain, err)
	}
	return sh, nil
}

// Connect writes the locations and warehouses read from the platforms into
// the shop and marks it connected; ErrNotFound if the shop does not exist.
// It checks no settings (a change that breaks them is shown, not refused),
// but counts as a change of the shop: a settings write checked against the
// shop before it checks again.
func (s *Store) Connect(ctx context.Context, id string, c shop.Connection) error {
	texts := []string{id}
	for _, l := range c.Locations {
		texts = append(texts, l.ID)
	}
	for _, w := range c.Warehouses {
		texts = append(texts, w.ID)
	}
	if err := checkText(texts...); err != nil {
		return fmt.Errorf("connect shop: %w", err)
	}
	locations, warehouses, err := placesJSON(c.Locations, c.Warehouses)
	if err != nil {
		return fmt.Errorf("connect shop %q: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE shops SET locations = $2, warehouses = $3, connected = TRUE, updated = $4,
		revision = revision + 1 WHERE id = $1`, id, locations, warehouses, micros(now()))
	if err != nil {
		return fmt.Errorf("connect shop %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("connect shop %q: %w", id, err)
	} else if n == 0 {
		return shopNotFound(id)
	}
	return nil
}

// maxParams bounds the parameters of one statement, far below the
// engines' limits (SQLite 32766, PostgreSQL 65535): SQLite finds a $N
// parameter by name in a list, so parsing a statement costs the square of
// its parameters. 6,000 variants took 3.4 s to write in statements of
// 32,766 parameters, 0.1 s in statements of 250; PostgreSQL took 0.15 s
// either way.
const maxParams = 250

// variantColumns and skuColumns are the platform columns an import
// writes, after shop and run.
var (
	variantColumns = []string{"id", "product_id", "sku", "tags", "inventory_policy", "inventory_item_id", "tracked", "available"}
	skuColumns     = []string{"id", "product_id", "seller_sku", "warehouses", "quantities"}
)

// PutVariants inserts or replaces a shop's variants, stamped with run;
// their links are kept. A variant given twice is stored as given last.
// ErrNotFound if the shop does not exist.
func (s *Store) PutVariants(ctx context.Context, id string, run int64, vs []shop.Variant) error {
	rows := make([][]any, 0, len(vs))
	for _, v := range lastByID(vs, func(v shop.Variant) string { return v.ID }) {
		if err := checkText(append([]string{v.ID, v.ProductID, v.SKU, v.InventoryPolicy, v.InventoryItemID}, v.Tags...)...); err != nil {
			return fmt.Errorf("put variants: %w", err)
		}
		if err := checkText(slices.Collect(maps.Keys(v.Available))...); err != nil {
			return fmt.Errorf("put variants: %w", err)
		}
		tags, err := json.Marshal(emptyIfNil(v.Tags))
		if err != nil {
			return fmt.Errorf("put variant %s: %w", v.ID, err)
		}
		available, err := json.Marshal(emptyMapIfNil(v.Available))
		if err != nil {
			return fmt.Errorf("put variant %s: %w", v.ID, err)
		}
		rows = append(rows, []any{v.ID, v.ProductID, v.SKU, string(tags), v.InventoryPolicy, v.InventoryItemID, v.Tracked, string(available)})
	}
	return s.putCatalog(ctx, "catalog_variants", variantColumns, id, run, rows, "variants")
}

// PutTikTokSKUs inserts or replaces a shop's TikTok Shop SKUs, stamped with
// run; their links are kept. A SKU given twice is stored as given last.
// ErrNotFound if the shop does not exist.
func (s *Store) PutTikTokSKUs(ctx context.Context, id string, run int64, ks []shop.TikTokSKU) error {
	rows := make([][]any, 0, len(ks))
	for _, k := range lastByID(ks, func(k shop.TikTokSKU) string { return k.ID }) {
		if err := checkText(append([]string{k.ID, k.ProductID, k.SellerSKU}, k.Warehouses...)...); err != nil {
			return fmt.Errorf("put TikTok SKUs: %w", err)
		}
		if err := checkText(slices.Collect(maps.Keys(k.Quantities))...); err != nil {
			return fmt.Errorf("put TikTok SKUs: %w", err)
		}
		warehouses, err := json.Marshal(emptyIfNil(k.Warehouses))
		if err != nil {
			return fmt.Errorf("put TikTok SKU %s: %w", k.ID, err)
		}
		quantities, err := json.Marshal(emptyMapIfNil(k.Quantities))
		if err != nil {
			return fmt.Errorf("put TikTok SKU %s: %w", k.ID, err)
		}
		rows = append(rows, []any{k.ID, k.ProductID, k.SellerSKU, string(warehouses), string(quantities)})
	}
	return s.putCatalog(ctx, "catalog_tiktok_skus", skuColumns, id, run, rows, "TikTok SKUs")
}

// lastByID keeps the last of the elements that share an id, in the place
// of the first: PostgreSQL refuses an upsert that touches a row twice,
// SQLite applies both, so neither engine is given one.
func lastByID[T any](xs []T, id func(T) string) []T {
	at := make(map[string]int, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if i, ok := at[id(x)]; ok {
			out[i] = x
			continue
		}
		at[id(x)] = len(out)
		out = append(out, x)
	}
	return out
}

func emptyMapIfNil[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// putCatalog upserts rows (values of columns) into table, in one
// transaction, as multi-row INSERTs: one round trip per batch of rows
// rather than per row.
func (s *Store) putCatalog(ctx context.Context, table string, columns []string, id string, run int64, rows [][]any, what string) error {
	if err := checkText(id); err != nil {
		return fmt.Errorf("put %s: %w", what, err)
	}
	var set []string
	for _, c := range append(columns[1:], "run") {
		set = append(set, c+" = excluded."+c)
	}
	head := `INSERT INTO ` + table + ` (shop, run, ` + strings.Join(columns, ", ") + `) VALUES `
	tail := ` ON CONFLICT (shop, id) DO UPDATE SET ` + strings.Join(set, ", ")
	perStatement := (maxParams - 2) / len(columns)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := shopExists(ctx, tx, id); err != nil {
			return err
		}
		for batch := range slices.Chunk(rows, perStatement) {
			args := []any{id, run}
			values := make([]string, len(batch))
			for i, row := range batch {
				marks := []string{"$1", "$2"}
				for _, v := range row {
					args = append(args, v)
					marks = append(marks, fmt.Sprintf("$%d", len(args)))
				}
				values[i] = "(" + strings.Join(marks, ", ") + ")"
			}
			if _, err := tx.ExecContext(ctx, head+strings.Join(values, ", ")+tail, args...); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case isForeignKey(err): // deleted since shopExists
		return shopNotFound(id)
	case err != nil:
		return fmt.Errorf("put %d %s of shop %q: %w", len(rows), what, id, err)
	}
	return nil
}

// PruneCatalog deletes the variants and TikTok SKUs of a shop not stamped
// with run: those the run did not find on the platforms. ErrNotFound if the
// shop does not exist.
func (s *Store) PruneCatalog(ctx context.Context, id string, run int64) error {
	if checkText(id) != nil {
		return shopNotFound(id)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := shopExists(ctx, tx, id); err != nil {
			return err
		}
		for _, table := range []string{"catalog_variants", "catalog_tiktok_skus"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE shop = $1 AND run <> $2`, id, run); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("prune the catalog of shop %q: %w", id, err)
	}
	return nil
}

// VariantKeys returns at most limit (<= 0: every) variants' keys in
// seller SKU order — by SKU, then id, byte by byte on both engines — after
// the key given (zero: from the first). ErrNotFound if the shop does not
// exist.
func (s *Store) VariantKeys(ctx context.Context, id string, after shop.VariantKey, limit int) ([]shop.VariantKey, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(after.SKU, after.ID); err != nil {
		return nil, fmt.Errorf("read variant keys: %w", err)
	}
	keys, err := collect(ctx, s.read, func(r *sql.Rows) (shop.VariantKey, error) {
		var k shop.VariantKey
		err := r.Scan(&k.ID, &k.SKU)
		return k, err
	}, `SELECT id, sku FROM catalog_variants WHERE shop = $1 AND (sku > $2 OR (sku = $2 AND id > $3))
		ORDER BY sku, id LIMIT $4`, id, after.SKU, after.ID, pageLimit(limit))
	if err == nil && len(keys) == 0 {
		err = shopExists(ctx, s.read, id)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read the variant keys of shop %q: %w", id, err)
	}
	return keys, nil
}

// SKUKeys is VariantKeys of the TikTok SKUs: by seller SKU, then id.
func (s *Store) SKUKeys(ctx context.Context, id string, after shop.SKUKey, limit int) ([]shop.SKUKey, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(after.SellerSKU, after.ID); err != nil {
		return nil, fmt.Errorf("read SKU keys: %w", err)
	}
	keys, err := collect(ctx, s.read, func(r *sql.Rows) (shop.SKUKey, error) {
		var k shop.SKUKey
		err := r.Scan(&k.ID, &k.ProductID, &k.SellerSKU)
		return k, err
	}, `SELECT id, product_id, seller_sku FROM catalog_tiktok_skus WHERE shop = $1 AND (seller_sku > $2 OR (seller_sku = $2 AND id > $3))
		ORDER BY seller_sku, id LIMIT $4`, id, after.SellerSKU, after.ID, pageLimit(limit))
	if err == nil && len(keys) == 0 {
		err = shopExists(ctx, s.read, id)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read the TikTok SKU keys of shop %q: %w", id, err)
	}
	return keys, nil
}

// linkColumns are the columns of a link, in both catalog tables.
var linkColumns = []string{"link_status", "link_variant_id", "link_sku_id", "link_product_id", "link_reason"}

// SetLinks writes the links of the variants and the TikTok SKUs given, by
// id, in one transaction; ids not in the catalog are ignored. ErrNotFound
// if the shop does not exist.
func (s *Store) SetLinks(ctx context.Context, id string, variants map[string]shop.Link, skus map[string]shop.Link) error {
	if err := checkText(id); err != nil {
		return fmt.Errorf("set links: %w", err)
	}
	for _, links := range []map[string]shop.Link{variants, skus} {
		for key, l := range links {
			if err := checkText(key, string(l.Status), l.VariantID, l.SKUID, l.TikTokProductID, l.Reason); err != nil {
				return fmt.Errorf("set links: %w", err)
			}
		}
	}
	// Each batch is one UPDATE … FROM (VALUES …), which both engines
	// support and name the columns of column1, column2, …
	var set []string
	for i, c := range linkColumns {
		set = append(set, fmt.Sprintf("%s = v.column%d", c, i+2))
	}
	perStatement := (maxParams - 1) / (1 + len(linkColumns))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := shopExists(ctx, tx, id); err != nil {
			return err
		}
		for _, side := range []struct {
			table string
			links map[string]shop.Link
		}{{"catalog_variants", variants}, {"catalog_tiktok_skus", skus}} {
			table, links := side.table, side.links
			for batch := range slices.Chunk(slices.Sorted(maps.Keys(links)), perStatement) {
				args := []any{id}
				values := make([]string, len(batch))
				for i, key := range batch {
					l := links[key]
					n := len(args)
					args = append(args, key, string(l.Status), l.VariantID, l.SKUID, l.TikTokProductID, l.Reason)
					values[i] = fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+strings.Join(set, ", ")+`
					FROM (VALUES `+strings.Join(values, ", ")+`) AS v
					WHERE `+table+`.shop = $1 AND `+table+`.id = v.column1`, args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("set the links of shop %q: %w", id, err)
	}
	return nil
}

// VariantsAfter returns at most limit variants of a shop whose ids sort
// after after ("": from the first), byte by byte, with status status (""
// every status): one page, found by an index whatever the page.
// ErrNotFound if the shop does not exist.
func (s *Store) VariantsAfter(ctx context.Context, id string, status shop.LinkStatus, after string, limit int) ([]shop.Variant, error) {
	return catalogPage(ctx, s, "catalog_variants", `id, product_id, sku, tags, inventory_policy, inventory_item_id, tracked, available`,
		scanVariant, id, status, after, limit, "variants")
}

// scanVariant reads a catalog_variants row: its own columns, then its
// link's (link_status, link_variant_id, link_sku_id, link_product_id,
// link_reason).
func scanVariant(r *sql.Rows) (shop.Variant, error) {
	var v shop.Variant
	var tags, available string
	err := r.Scan(&v.ID, &v.ProductID, &v.SKU, &tags, &v.InventoryPolicy, &v.InventoryItemID, &v.Tracked, &available,
		&v.Link.Status, &v.Link.VariantID, &v.Link.SKUID, &v.Link.TikTokProductID, &v.Link.Reason)
	if err != nil {
		return v, err
	}
	v.Tags, v.Available = []string{}, map[string]int{}
	if err := json.Unmarshal([]byte(tags), &v.Tags); err != nil {
		return v, fmt.Errorf("variant %s: stored tags: %w", v.ID, err)
	}
	if err := json.Unmarshal([]byte(available), &v.Available); err != nil {
		return v, fmt.Errorf("variant %s: stored levels: %w", v.ID, err)
	}
	return v, nil
}

// TikTokSKUsAfter is VariantsAfter for the TikTok Shop SKUs.
func (s *Store) TikTokSKUsAfter(ctx context.Context, id string, status shop.LinkStatus, after string, limit int) ([]shop.TikTokSKU, error) {
	return catalogPage(ctx, s, "catalog_tiktok_skus", `id, product_id, seller_sku, warehouses, quantities`,
		func(r *sql.Rows) (shop.TikTokSKU, error) {
			var k shop.TikTokSKU
			var warehouses, quantities string
			err := r.Scan(&k.ID, &k.ProductID, &k.SellerSKU, &warehouses, &quantities,
				&k.Link.Status, &k.Link.VariantID, &k.Link.SKUID, &k.Link.TikTokProductID, &k.Link.Reason)
			if err != nil {
				return k, err
			}
			k.Warehouses, k.Quantities = []string{}, map[string]int{}
			if err := json.Unmarshal([]byte(warehouses), &k.Warehouses); err != nil {
				return k, fmt.Errorf("TikTok SKU %s: stored warehouses: %w", k.ID, err)
			}
			if err := json.Unmarshal([]byte(quantities), &k.Quantities); err != nil {
				return k, fmt.Errorf("TikTok SKU %s: stored quantities: %w", k.ID, err)
			}
			return k, nil
		}, id, status, after, limit, "TikTok SKUs")
}

// catalogPage reads one page of a catalog table: columns, then the link.
func catalogPage[T any](ctx context.Context, s *Store, table, columns string, scan func(*sql.Rows) (T, error),
	id string, status shop.LinkStatus, after string, limit int, what string) ([]T, error) {
	if checkText(id) != nil {
		return nil, shopNotFound(id)
	}
	if err := checkText(string(status), after); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	query := `SELECT ` + columns + `, ` + strings.Join(linkColumns, ", ") + ` FROM ` + table + ` WHERE shop = $1 AND id > $2`
	args := []any{id, after, pageLimit(limit)}
	if status != "" {
		query += ` AND link_status = $4`
		args = append(args, string(status))
	}
	page, err := collect(ctx, s.read, scan, query+` ORDER BY id LIMIT $3`, args...)
	if err == nil && len(page) == 0 {
		err = shopExists(ctx, s.read, id) // none, or no shop?
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("list %s of shop %q: %w", what, id, err)
	}
	return page, nil
}
