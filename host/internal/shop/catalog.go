package shop

import (
	"context"
	"time"
)

// A connected shop has a catalog: its Shopify variants and its TikTok Shop
// SKUs as last imported, each with its link. A variant and a SKU are
// linked when they carry the same seller SKU and nothing else does: two
// variants with one SKU, or one SKU on two TikTok products, is a conflict
// and links nothing, because publishing one variant's stock to two
// listings (or two variants' stock to one) oversells.

// LinkStatus is where a variant or a TikTok SKU stands after linking.
type LinkStatus string

// The link statuses.
const (
	LinkLinked    LinkStatus = "linked"
	LinkUnmatched LinkStatus = "unmatched"
	LinkConflict  LinkStatus = "conflict"
)

// Link is a variant's or a SKU's link. A linked one names its partner: the
// variant names the TikTok SKU and its product, the SKU names the variant.
// Reason says why an unmatched or conflicting one is not linked.
type Link struct {
	Status          LinkStatus `json:"status"`
	VariantID       string     `json:"variant_id,omitempty"`
	SKUID           string     `json:"sku_id,omitempty"`
	TikTokProductID string     `json:"tiktok_product_id,omitempty"`
	Reason          string     `json:"reason,omitempty"`
}

// Variant is a Shopify variant as imported: ids stay strings (they exceed
// 2^53).
type Variant struct {
	ID              string   `json:"variant_id"`
	ProductID       string   `json:"product_id"`
	SKU             string   `json:"sku"`
	Tags            []string `json:"tags"`
	InventoryPolicy string   `json:"inventory_policy"` // DENY or CONTINUE
	InventoryItemID string   `json:"inventory_item_id"`
	Tracked         bool     `json:"tracked"`
	// Available is the available quantity by location id; a location
	// that does not stock the item is absent.
	Available map[string]int `json:"available"`
	Link      Link           `json:"link"`
}

// TikTokSKU is a TikTok Shop SKU as imported, with the warehouses it is
// stocked in (an inventory update must name every one of them).
type TikTokSKU struct {
	ID         string   `json:"sku_id"`
	ProductID  string   `json:"product_id"`
	SellerSKU  string   `json:"seller_sku"`
	Warehouses []string `json:"warehouses"`
	// Quantities is TikTok's available quantity by warehouse, as read at
	// import.
	Quantities map[string]int `json:"quantities"`
	Link       Link           `json:"link"`
}

// VariantKey and SKUKey are what linking reads of each side.
type VariantKey struct{ ID, SKU string }

// SKUKey: see VariantKey.
type SKUKey struct{ ID, ProductID, SellerSKU string }

// CatalogSide selects the variants or the TikTok SKUs of a catalog.
type CatalogSide string

// The sides of a catalog.
const (
	ShopifySide CatalogSide = "shopify"
	TikTokSide  CatalogSide = "tiktok"
)

// LinkCounts count a catalog's links. Conflicts counts seller SKUs in
// conflict (each may involve several variants or products).
type LinkCounts struct {
	Linked            int `json:"linked"`
	UnmatchedVariants int `json:"unmatched_variants"`
	UnmatchedSKUs     int `json:"unmatched_skus"`
	Conflicts         int `json:"conflicts"`
}

// RunState is where a run is.
type RunState string

// The run states. A run whose process died stays Running in the store
// with an Updated that no longer moves: readers show it as Interrupted
// once it is older than StaleRunAfter.
const (
	RunRunning     RunState = "running"
	RunSucceeded   RunState = "succeeded"
	RunFailed      RunState = "failed"
	RunInterrupted RunState = "interrupted"
)

// RunPhase is the step a connect run is at, in order.
type RunPhase string

// The phases of a connect run.
const (
	PhaseLocations RunPhase = "locations" // locations and warehouses
	PhaseShopify   RunPhase = "shopify"   // the Shopify catalog
	PhaseTikTok    RunPhase = "tiktok"    // the TikTok Shop SKUs
	PhaseLinking   RunPhase = "linking"   // links by seller SKU
	PhaseDone      RunPhase = "done"
)

// StaleRunAfter is how long a running run may go without its Updated
// moving before it counts as interrupted; a live run writes its progress
// far more often.
const StaleRunAfter = time.Minute

// Run is one background run over a shop's catalog: a connect. Done and
// Total are the phase's progress (Total 0 while unknown).
type Run struct {
	ID       int64
	Shop     string
	Kind     string // "connect"
	State    RunState
	Phase    RunPhase
	Done     int64
	Total    int64
	Counts   LinkCounts // when succeeded
	Error    string     // when failed or interrupted: what happened and what to do
	Token    string     // id of the token that started it
	Started  time.Time
	Updated  time.Time
	Finished time.Time // zero while running
}

// Connection is what connecting reads from the platforms into a shop.
type Connection struct {
	Locations  []Location
	Warehouses []Warehouse
}

// CatalogStore is the part of Store that keeps catalogs and runs, and the
// webhooks that change them.
type CatalogStore interface {
	WebhookStore
	PublishStore
	ReconcileStore

	// ShopByDomain finds the shop with this shopify_domain.
	ShopByDomain(ctx context.Context, domain string) (Shop, error)
	// Connect writes the locations and warehouses read from the platforms
	// into the shop and marks it connected. Unlike PutShop it checks no
	// settings: a change that breaks them is shown, not refused.
	Connect(ctx context.Context, shop string, c Connection) error

	// StartRun stores a new running run and returns it with its ID and
	// times; ErrExists if the shop has a running run not yet stale.
	StartRun(ctx context.Context, r Run) (Run, error)
	// UpdateRun writes a run's state, phase, progress, counts, error and
	// finish time; Updated is set by the store.
	UpdateRun(ctx context.Context, r Run) error
	// LatestRun is the shop's most recent run; ErrNotFound if none.
	LatestRun(ctx context.Context, shop string) (Run, error)
	// LatestRunIn is the shop's most recent run in state; ErrNotFound if
	// none.
	LatestRunIn(ctx context.Context, shop string, state RunState) (Run, error)

	// PutVariants and PutTikTokSKUs insert or replace catalog rows,
	// stamped with the run that read them; their links are kept.
	PutVariants(ctx context.Context, shop string, run int64, vs []Variant) error
	PutTikTokSKUs(ctx context.Context, shop string, run int64, ks []TikTokSKU) error
	// PruneCatalog deletes the rows no longer on the platforms: those not
	// stamped with run.
	PruneCatalog(ctx context.Context, shop string, run int64) error
	// VariantKeys and SKUKeys page through what linking needs of each
	// side in seller SKU order (SKU, then id, byte by byte), after the key
	// given (zero: from the first); limit <= 0 is every one.
	VariantKeys(ctx context.Context, shop string, after VariantKey, limit int) ([]VariantKey, error)
	SKUKeys(ctx context.Context, shop string, after SKUKey, limit int) ([]SKUKey, error)
	// SetLinks writes the links of the variants and SKUs given, by id.
	SetLinks(ctx context.Context, shop string, variants map[string]Link, skus map[string]Link) error
	// VariantsAfter and TikTokSKUsAfter page through a catalog side by id
	// (after "": from the first); status "" is every status.
	VariantsAfter(ctx context.Context, shop string, status LinkStatus, after string, limit int) ([]Variant, error)
	TikTokSKUsAfter(ctx context.Context, shop string, status LinkStatus, after string, limit int) ([]TikTokSKU, error)

	// UpdateCredentials inserts or replaces the credentials given, by
	// group and name, keeping the shop's others.
	UpdateCredentials(ctx context.Context, shop string, creds []SealedCredential) error
}
