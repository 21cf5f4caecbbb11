// Package catalog generates the shop that the fake Shopify and the fake
// TikTok Shop serve: products, variants and stock on the Shopify side,
// products, SKUs and warehouse quantities on the TikTok side, linked by
// seller SKU (a Shopify variant's sku equals a TikTok SKU's seller_sku).
//
// A catalog is deterministic in its Options: the same seed gives the same
// ids, SKUs and stock, so a failing test can be replayed. Ids are decimal
// strings above 2^53, as the real platforms' are, so that any code that
// parses one as a float64 loses digits and fails.
//
// Besides the Products × Variants linked variants, Generate adds (unless
// Options.WithoutConflicts) the cases a connect step must handle:
//   - two Shopify variants with one SKU that TikTok also has (ambiguous:
//     not linked; listed in DuplicateSKUs),
//   - a Shopify variant whose SKU TikTok does not have, and one with no SKU
//     at all (listed in ShopifyOnly),
//   - a TikTok SKU that no Shopify variant has (listed in TikTokOnly).
package catalog

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Options size a generated catalog.
type Options struct {
	// Products, Variants (per product) and Locations; each at least 1.
	Products, Variants, Locations int
	// Seed makes the catalog; the same seed gives the same catalog.
	Seed uint64
	// WithoutConflicts leaves out the duplicate and unmatched SKUs.
	WithoutConflicts bool
}

// Catalog is both sides of a shop. The fakes copy it: changing a Catalog
// after a fake was made from it does not change the fake.
type Catalog struct {
	// Shopify side.
	Locations []Location
	Products  []Product

	// TikTok side.
	Warehouses     []Warehouse
	TikTokProducts []TikTokProduct

	// Links are the variants matched to exactly one TikTok SKU, in catalog
	// order.
	Links []Link
	// DuplicateSKUs are seller SKUs that more than one Shopify variant has.
	DuplicateSKUs []string
	// ShopifyOnly are variant ids whose SKU is empty or unknown to TikTok.
	ShopifyOnly []string
	// TikTokOnly are TikTok SKU ids whose seller SKU no variant has.
	TikTokOnly []string
}

// Location is a Shopify location. ID is the number of its global id
// gid://shopify/Location/{ID}.
type Location struct {
	ID, Name string
	Active   bool
}

// Product is a Shopify product.
type Product struct {
	ID, Title string
	Tags      []string
	Variants  []Variant
}

// Variant is a Shopify product variant and its inventory item.
type Variant struct {
	ID, SKU, Title  string
	InventoryItemID string
	Tracked         bool
	// InventoryPolicy is "DENY" or "CONTINUE" (continue selling when out
	// of stock).
	InventoryPolicy string
	// Available is the available quantity by location id; a location
	// missing from it does not stock the item. It may be negative.
	Available map[string]int
}

// Warehouse is a TikTok Shop warehouse.
type Warehouse struct {
	ID, Name string
	// Type is "SALES_WAREHOUSE" (pickup) or "RETURN_WAREHOUSE".
	Type string
	// EffectStatus is "ENABLED", "DISABLED" or "RESTRICTED".
	EffectStatus string
	IsDefault    bool
}

// TikTokProduct is a TikTok Shop product.
type TikTokProduct struct {
	ID, Title string
	SKUs      []TikTokSKU
}

// TikTokSKU is a TikTok Shop SKU with its quantity per warehouse: the
// warehouses listed are the SKU's warehouses, and an inventory update must
// list every one of them.
type TikTokSKU struct {
	ID, SellerSKU string
	Inventory     []Stock
}

// Stock is a TikTok SKU's quantity in one warehouse.
type Stock struct {
	WarehouseID string
	Quantity    int
}

// Link is a Shopify variant matched to a TikTok SKU by seller SKU.
type Link struct {
	SellerSKU                 string
	ProductID, VariantID      string // Shopify
	InventoryItemID           string // Shopify
	TikTokProductID, TikTokID string // TikTok product and SKU
}

// Conflict SKUs that Generate adds.
const (
	DuplicateSKU   = "DUP-0001"
	ShopifyOnlySKU = "SHOP-ONLY-0001"
	TikTokOnlySKU  = "TT-ONLY-0001"
)

// minID is 2^53: every generated id is above it.
const minID = 1 << 53

// Generate makes a catalog. Of the locations, the last is inactive when
// there are at least two. Of the warehouses, there are two enabled sales
// warehouses (the first is the default), one disabled sales warehouse and
// one return warehouse. Each Shopify product has a TikTok product with one
// SKU per variant, stocked in the default warehouse; the first SKU (and
// about one in ten more) is stocked in both enabled sales warehouses. The
// second variant (and about one in ten more) is untracked; the third (and
// about one in ten more) continues selling when out of stock.
func Generate(o Options) (*Catalog, error) {
	if o.Products < 1 || o.Variants < 1 || o.Locations < 1 {
		return nil, fmt.Errorf("catalog: products, variants and locations must each be at least 1 (got %d,%d,%d)", o.Products, o.Variants, o.Locations)
	}
	if n := o.Products * o.Variants; n > 1_000_000 {
		return nil, fmt.Errorf("catalog: %d variants is too many for a fake (at most 1,000,000)", n)
	}
	g := &generator{rng: rand.New(rand.NewPCG(o.Seed, 0x5eed_ca7a_10c0)), used: map[string]bool{}}
	c := &Catalog{}
	for i := range o.Locations {
		c.Locations = append(c.Locations, Location{ID: g.id(), Name: fmt.Sprintf("Location %d", i+1), Active: o.Locations < 2 || i < o.Locations-1})
	}
	c.Warehouses = []Warehouse{
		{ID: g.id(), Name: "Main warehouse", Type: "SALES_WAREHOUSE", EffectStatus: "ENABLED", IsDefault: true},
		{ID: g.id(), Name: "Second warehouse", Type: "SALES_WAREHOUSE", EffectStatus: "ENABLED"},
		{ID: g.id(), Name: "Closed warehouse", Type: "SALES_WAREHOUSE", EffectStatus: "DISABLED"},
		{ID: g.id(), Name: "Returns", Type: "RETURN_WAREHOUSE", EffectStatus: "ENABLED"},
	}
	main, second := c.Warehouses[0].ID, c.Warehouses[1].ID

	n := 0 // variant number across the catalog
	for p := range o.Products {
		prod := Product{ID: g.id(), Title: fmt.Sprintf("Product %d", p+1), Tags: g.tags()}
		tt := TikTokProduct{ID: g.id(), Title: prod.Title}
		for v := range o.Variants {
			sku := fmt.Sprintf("SKU-%05d-%02d", p+1, v+1)
			variant := g.variant(c.Locations, sku, fmt.Sprintf("Variant %d", v+1))
			variant.Tracked = n != 1 && g.rng.IntN(10) != 0
			if n == 2 || g.rng.IntN(10) == 0 {
				variant.InventoryPolicy = "CONTINUE"
			}
			ttSKU := TikTokSKU{ID: g.id(), SellerSKU: sku, Inventory: []Stock{{main, g.rng.IntN(50)}}}
			if n == 0 || g.rng.IntN(10) == 0 {
				ttSKU.Inventory = append(ttSKU.Inventory, Stock{second, g.rng.IntN(50)})
			}
			prod.Variants = append(prod.Variants, variant)
			tt.SKUs = append(tt.SKUs, ttSKU)
			c.Links = append(c.Links, Link{SellerSKU: sku, ProductID: prod.ID, VariantID: variant.ID,
				InventoryItemID: variant.InventoryItemID, TikTokProductID: tt.ID, TikTokID: ttSKU.ID})
			n++
		}
		c.Products = append(c.Products, prod)
		c.TikTokProducts = append(c.TikTokProducts, tt)
	}
	if !o.WithoutConflicts {
		g.conflicts(c)
	}
	return c, nil
}

// conflicts adds the duplicate and unmatched SKUs.
func (g *generator) conflicts(c *Catalog) {
	main := c.Warehouses[0].ID
	prod := Product{ID: g.id(), Title: "Conflicts", Tags: []string{"conflicts"}}
	for i, sku := range []string{DuplicateSKU, DuplicateSKU, ShopifyOnlySKU, ""} {
		v := g.variant(c.Locations, sku, fmt.Sprintf("Conflict %d", i+1))
		v.Tracked = true
		prod.Variants = append(prod.Variants, v)
		if sku != DuplicateSKU {
			c.ShopifyOnly = append(c.ShopifyOnly, v.ID)
		}
	}
	c.Products = append(c.Products, prod)
	c.DuplicateSKUs = []string{DuplicateSKU}
	for _, sku := range []string{DuplicateSKU, TikTokOnlySKU} {
		s := TikTokSKU{ID: g.id(), SellerSKU: sku, Inventory: []Stock{{main, g.rng.IntN(50)}}}
		c.TikTokProducts = append(c.TikTokProducts, TikTokProduct{ID: g.id(), Title: "Only " + sku, SKUs: []TikTokSKU{s}})
		if sku == TikTokOnlySKU {
			c.TikTokOnly = append(c.TikTokOnly, s.ID)
		}
	}
}

type generator struct {
	rng  *rand.Rand
	used map[string]bool
}

// id returns a new id above 2^53 and below 2^63.
func (g *generator) id() string {
	for {
		id := fmt.Sprint(minID + 1 + g.rng.Uint64N(1<<63-minID-1))
		if !g.used[id] {
			g.used[id] = true
			return id
		}
	}
}

func (g *generator) tags() []string {
	all := []string{"summer", "winter", "sale", "new", "bundle"}
	var tags []string
	for _, t := range all {
		if g.rng.IntN(4) == 0 {
			tags = append(tags, t)
		}
	}
	return tags
}

// variant makes a tracked DENY variant stocked at every location: mostly
// between 0 and 200, sometimes 0, now and then negative (oversold).
func (g *generator) variant(locs []Location, sku, title string) Variant {
	v := Variant{ID: g.id(), SKU: sku, Title: title, InventoryItemID: g.id(), Tracked: true,
		InventoryPolicy: "DENY", Available: map[string]int{}}
	for _, l := range locs {
		q := g.rng.IntN(201)
		switch g.rng.IntN(20) {
		case 0:
			q = 0
		case 1:
			q = -1 - g.rng.IntN(3)
		}
		v.Available[l.ID] = q
	}
	return v
}

// Clone returns a deep copy of c.
func (c *Catalog) Clone() *Catalog {
	out := &Catalog{
		Locations:     slices.Clone(c.Locations),
		Warehouses:    slices.Clone(c.Warehouses),
		Links:         slices.Clone(c.Links),
		DuplicateSKUs: slices.Clone(c.DuplicateSKUs),
		ShopifyOnly:   slices.Clone(c.ShopifyOnly),
		TikTokOnly:    slices.Clone(c.TikTokOnly),
	}
	for _, p := range c.Products {
		p.Tags = slices.Clone(p.Tags)
		vs := make([]Variant, len(p.Variants))
		for i, v := range p.Variants {
			avail := make(map[string]int, len(v.Available))
			for k, q := range v.Available {
				avail[k] = q
			}
			v.Available = avail
			vs[i] = v
		}
		p.Variants = vs
		out.Products = append(out.Products, p)
	}
	for _, p := range c.TikTokProducts {
		skus := make([]TikTokSKU, len(p.SKUs))
		for i, s := range p.SKUs {
			s.Inventory = slices.Clone(s.Inventory)
			skus[i] = s
		}
		p.SKUs = skus
		out.TikTokProducts = append(out.TikTokProducts, p)
	}
	return out
}
