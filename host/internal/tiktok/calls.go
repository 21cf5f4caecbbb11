package tiktok

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"regexp"
	"slices"
	"strconv"
)

// AuthorizedShop is a shop that authorised the app.
type AuthorizedShop struct {
	ID, Name, Region string
	// Cipher identifies the shop in the shop-scoped calls.
	Cipher string
}

// AuthorizedShops lists the shops the access token may act for, with the
// cipher each shop-scoped call needs. It works on a Shop without a cipher.
func (s *Shop) AuthorizedShops(ctx context.Context) ([]AuthorizedShop, error) {
	var data struct {
		Shops []struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Region string `json:"region"`
			Cipher string `json:"cipher"`
		} `json:"shops"`
	}
	if _, err := s.do(ctx, "GET", "/authorization/202309/shops", nil, nil, false, &data); err != nil {
		return nil, err
	}
	out := make([]AuthorizedShop, len(data.Shops))
	for i, sh := range data.Shops {
		out[i] = AuthorizedShop{ID: sh.ID, Name: sh.Name, Region: sh.Region, Cipher: sh.Cipher}
	}
	return out, nil
}

// Warehouse types and states.
const (
	WarehouseSales   = "SALES_WAREHOUSE" // ships orders (pickup)
	WarehouseReturn  = "RETURN_WAREHOUSE"
	WarehouseEnabled = "ENABLED" // also DISABLED, RESTRICTED
)

// Warehouse is one of the shop's warehouses.
type Warehouse struct {
	ID, Name string
	// Type is SALES_WAREHOUSE or RETURN_WAREHOUSE; EffectStatus is
	// ENABLED, DISABLED or RESTRICTED.
	Type, EffectStatus string
	IsDefault          bool
}

// ActivePickup says whether the warehouse ships orders now: a sales
// warehouse that is enabled. Only these get stock.
func (w Warehouse) ActivePickup() bool {
	return w.Type == WarehouseSales && w.EffectStatus == WarehouseEnabled
}

// Warehouses lists the shop's warehouses.
func (s *Shop) Warehouses(ctx context.Context) ([]Warehouse, error) {
	var data struct {
		Warehouses []struct {
			ID           string `json:"id"`
			Name         string `json:"name"`
			Type         string `json:"type"`
			EffectStatus string `json:"effect_status"`
			IsDefault    bool   `json:"is_default"`
		} `json:"warehouses"`
	}
	if _, err := s.do(ctx, "GET", "/logistics/202309/warehouses", nil, nil, true, &data); err != nil {
		return nil, err
	}
	out := make([]Warehouse, len(data.Warehouses))
	for i, w := range data.Warehouses {
		out[i] = Warehouse{ID: w.ID, Name: w.Name, Type: w.Type, EffectStatus: w.EffectStatus, IsDefault: w.IsDefault}
	}
	return out, nil
}

// Product is a product with its SKUs.
type Product struct {
	ID     string
	Title  string
	Status string // ACTIVATE, DRAFT, SELLER_DEACTIVATED, …
	SKUs   []SKU
}

// SKU is one SKU of a product, with its stock in each of its warehouses.
type SKU struct {
	ID        string
	SellerSKU string
	Inventory []Stock
}

// Stock is a SKU's quantity in one warehouse.
type Stock struct {
	WarehouseID string
	Quantity    int
}

// WarehouseIDs lists the SKU's warehouses.
func (k SKU) WarehouseIDs() []string {
	ids := make([]string, len(k.Inventory))
	for i, st := range k.Inventory {
		ids[i] = st.WarehouseID
	}
	return ids
}

// ProductQuery selects products. Empty fields do not filter.
type ProductQuery struct {
	// Status filters by product status (e.g. ACTIVATE); "" is every status.
	Status string
	// SellerSKUs keeps products having one of these seller SKUs.
	SellerSKUs []string
	// PageSize is the products per page, 1 to 100 (100).
	PageSize int
}

// ProductPage is one page of products; NextPageToken is "" on the last.
type ProductPage struct {
	Products      []Product
	NextPageToken string
	TotalCount    int
}

// maxProductPage is the largest page TikTok serves.
const maxProductPage = 100

// SearchProducts returns one page of products: the first for pageToken "",
// then the one each page's NextPageToken names.
func (s *Shop) SearchProducts(ctx context.Context, q ProductQuery, pageToken string) (ProductPage, error) {
	size := q.PageSize
	if size <= 0 || size > maxProductPage {
		size = maxProductPage
	}
	params := map[string]string{"page_size": strconv.Itoa(size)}
	if pageToken != "" {
		params["page_token"] = pageToken
	}
	type filter struct {
		Status     string   `json:"status,omitempty"`
		SellerSKUs []string `json:"seller_skus,omitempty"`
	}
	var data struct {
		Products []struct {
			ID     string `json:"id"`
			Title  string `json:"title"`
			Status string `json:"status"`
			SKUs   []struct {
				ID        string `json:"id"`
				SellerSKU string `json:"seller_sku"`
				Inventory []struct {
					WarehouseID string `json:"warehouse_id"`
					Quantity    int    `json:"quantity"`
				} `json:"inventory"`
			} `json:"skus"`
		} `json:"products"`
		NextPageToken string `json:"next_page_token"`
		TotalCount    int    `json:"total_count"`
	}
	if _, err := s.do(ctx, "POST", "/product/202309/products/search", params,
		filter{Status: q.Status, SellerSKUs: q.SellerSKUs}, true, &data); err != nil {
		return ProductPage{}, err
	}
	page := ProductPage{NextPageToken: data.NextPageToken, TotalCount: data.TotalCount, Products: make([]Product, len(data.Products))}
	for i, p := range data.Products {
		prod := Product{ID: p.ID, Title: p.Title, Status: p.Status, SKUs: make([]SKU, len(p.SKUs))}
		for j, k := range p.SKUs {
			sku := SKU{ID: k.ID, SellerSKU: k.SellerSKU, Inventory: make([]Stock, len(k.Inventory))}
			for n, inv := range k.Inventory {
				sku.Inventory[n] = Stock{WarehouseID: inv.WarehouseID, Quantity: inv.Quantity}
			}
			prod.SKUs[j] = sku
		}
		page.Products[i] = prod
	}
	return page, nil
}

// Products yields every product q selects, page after page. It stops at
// the first error, which it yields.
func (s *Shop) Products(ctx context.Context, q ProductQuery) iter.Seq2[Product, error] {
	return func(yield func(Product, error) bool) {
		token := ""
		seen := map[string]bool{}
		for {
			page, err := s.SearchProducts(ctx, q, token)
			if err != nil {
				yield(Product{}, err)
				return
			}
			for _, p := range page.Products {
				if !yield(p, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			if seen[page.NextPageToken] {
				yield(Product{}, fmt.Errorf("tiktok: product search returned the page token %q twice", page.NextPageToken))
				return
			}
			seen[page.NextPageToken] = true
			token = page.NextPageToken
		}
	}
}

// MaxQuantity is the largest quantity the client sends. TikTok's pages
// disagree on the ceiling (99,999 or 999,999); a shop with the lower one
// answers a per-SKU error above it.
const MaxQuantity = 999_999

// InventoryUpdate sets the stock of SKUs of one product. TikTok takes one
// product per call and refuses a multi-warehouse SKU unless every one of its
// warehouses is listed: so an update names its product once, and each SKU
// gives the quantity of each of its warehouses.
type InventoryUpdate struct {
	ProductID string
	SKUs      []SKUQuantities
}

// SKUQuantities are the new quantities of one SKU: warehouse id → quantity,
// for every warehouse of the SKU.
type SKUQuantities struct {
	SKUID      string
	Quantities map[string]int
}

// idPattern: TikTok's ids are decimal strings; anything that could change
// the request path is refused.
var idPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// check refuses an update TikTok would refuse, or that would mix products:
// an empty update, a SKU twice, a SKU without warehouses, a quantity out of
// [0, MaxQuantity]. When known (the product as the catalog last read it) is
// given, every SKU must be one of its SKUs and list every one of its
// warehouses (it may list more: a SKU can be stocked in a new warehouse).
func (u InventoryUpdate) check(known *Product) error {
	bad := func(format string, a ...any) error {
		return &InvalidUpdateError{ProductID: u.ProductID, Reason: fmt.Sprintf(format, a...)}
	}
	if !idPattern.MatchString(u.ProductID) {
		return bad("the product id must be TikTok's id (digits)")
	}
	if len(u.SKUs) == 0 {
		return bad("no SKUs")
	}
	var knownSKUs map[string][]string
	if known != nil {
		if known.ID != u.ProductID {
			return bad("the known product is %s, not this one", known.ID)
		}
		knownSKUs = make(map[string][]string, len(known.SKUs))
		for _, k := range known.SKUs {
			knownSKUs[k.ID] = k.WarehouseIDs()
		}
	}
	seen := make(map[string]bool, len(u.SKUs))
	for _, sku := range u.SKUs {
		if !idPattern.MatchString(sku.SKUID) {
			return bad("SKU id %q is not TikTok's id", sku.SKUID)
		}
		if seen[sku.SKUID] {
			return bad("SKU %s is listed twice", sku.SKUID)
		}
		seen[sku.SKUID] = true
		if len(sku.Quantities) == 0 {
			return bad("SKU %s has no warehouse", sku.SKUID)
		}
		for wh, q := range sku.Quantities {
			if wh == "" {
				return bad("SKU %s has an empty warehouse id", sku.SKUID)
			}
			if q < 0 || q > MaxQuantity {
				return bad("SKU %s: quantity %d in warehouse %s is outside 0 to %d", sku.SKUID, q, wh, MaxQuantity)
			}
		}
		if known == nil {
			continue
		}
		want, ok := knownSKUs[sku.SKUID]
		if !ok {
			return bad("SKU %s is not a SKU of this product", sku.SKUID)
		}
		if len(want) == 0 {
			continue // the catalog did not say where the SKU is stocked
		}
		for _, wh := range want {
			if _, ok := sku.Quantities[wh]; !ok {
				return bad("SKU %s leaves out its warehouse %s: every warehouse of a SKU must be listed", sku.SKUID, wh)
			}
		}
	}
	return nil
}

// UpdateInventory sets the quantities of u's SKUs. known, when not nil, is
// the product as last read (SearchProducts): the update is then checked to
// hold only its SKUs, each with every one of its warehouses; an update that fails a
// check is not sent (*InvalidUpdateError).
//
// TikTok may apply some SKUs and refuse others with a success code: the
// refused ones come back as an *UpdateFailures error listing each SKU's
// error. Neither it nor *InvalidUpdateError is transient.
func (s *Shop) UpdateInventory(ctx context.Context, u InventoryUpdate, known *Product) error {
	_, err := s.UpdateInventoryRequest(ctx, u, known)
	return err
}

// UpdateInventoryRequest is UpdateInventory that also returns TikTok's
// request id of the call, when one was made: the sync records it with
// every publication, accepted or refused.
func (s *Shop) UpdateInventoryRequest(ctx context.Context, u InventoryUpdate, known *Product) (requestID string, err error) {
	if err := u.check(known); err != nil {
		return "", err
	}
	type warehouseQuantity struct {
		WarehouseID string `json:"warehouse_id"`
		Quantity    int    `json:"quantity"`
	}
	type skuBody struct {
		ID        string              `json:"id"`
		Inventory []warehouseQuantity `json:"inventory"`
	}
	body := struct {
		SKUs []skuBody `json:"skus"`
	}{SKUs: make([]skuBody, len(u.SKUs))}
	for i, sku := range u.SKUs {
		b := skuBody{ID: sku.SKUID}
		for _, wh := range slices.Sorted(maps.Keys(sku.Quantities)) {
			b.Inventory = append(b.Inventory, warehouseQuantity{WarehouseID: wh, Quantity: sku.Quantities[wh]})
		}
		body.SKUs[i] = b
	}
	var data struct {
		Errors []struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
			Detail  struct {
				SKUID       string `json:"sku_id"`
				ExtraErrors []struct {
					WarehouseID string `json:"warehouse_id"`
					Code        int64  `json:"code"`
					Message     string `json:"message"`
				} `json:"extra_errors"`
			} `json:"detail"`
		} `json:"errors"`
	}
	id, err := s.do(ctx, "POST", "/product/202309/products/"+u.ProductID+"/inventory/update", nil, body, true, &data)
	if err != nil {
		return id, err
	}
	if len(data.Errors) == 0 {
		return id, nil
	}
	fail := &UpdateFailures{ProductID: u.ProductID, RequestID: id, SKUs: make([]SKUError, len(data.Errors))}
	for i, e := range data.Errors {
		se := SKUError{SKUID: e.Detail.SKUID, Code: e.Code, Message: e.Message}
		for _, x := range e.Detail.ExtraErrors {
			se.Warehouses = append(se.Warehouses, WarehouseError{WarehouseID: x.WarehouseID, Code: x.Code, Message: x.Message})
		}
		fail.SKUs[i] = se
	}
	return id, fail
}

// InventoryLevels is a SKU's stock as TikTok has it, by warehouse.
type InventoryLevels struct {
	ProductID, SKUID string
	Warehouses       []WarehouseLevel
}

// WarehouseLevel is a SKU's stock in one warehouse: Available to sell, and
// Committed to orders not yet shipped.
type WarehouseLevel struct {
	WarehouseID          string
	Available, Committed int
}

// Limits of one inventory search.
const (
	maxInventoryProducts = 100
	maxInventorySKUs     = 600
)

// InventoryOfProducts reads back the stock of every SKU of the products,
// in as many calls as needed (100 products per call).
func (s *Shop) InventoryOfProducts(ctx context.Context, productIDs []string) ([]InventoryLevels, error) {
	return s.inventorySearch(ctx, "product_ids", productIDs, maxInventoryProducts)
}

// InventoryOfSKUs reads back the stock of the SKUs, in as many calls as
// needed (600 SKUs per call).
func (s *Shop) InventoryOfSKUs(ctx context.Context, skuIDs []string) ([]InventoryLevels, error) {
	return s.inventorySearch(ctx, "sku_ids", skuIDs, maxInventorySKUs)
}

func (s *Shop) inventorySearch(ctx context.Context, field string, ids []string, per int) ([]InventoryLevels, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []InventoryLevels
	for chunk := range slices.Chunk(ids, per) {
		var data struct {
			Inventory []struct {
				ProductID string `json:"product_id"`
				SKUs      []struct {
					ID                 string `json:"id"`
					WarehouseInventory []struct {
						WarehouseID       string `json:"warehouse_id"`
						AvailableQuantity int    `json:"available_quantity"`
						CommittedQuantity int    `json:"committed_quantity"`
					} `json:"warehouse_inventory"`
				} `json:"skus"`
			} `json:"inventory"`
		}
		if _, err := s.do(ctx, "POST", "/product/202309/inventory/search", nil, map[string][]string{field: chunk}, true, &data); err != nil {
			return nil, err
		}
		for _, p := range data.Inventory {
			for _, k := range p.SKUs {
				lv := InventoryLevels{ProductID: p.ProductID, SKUID: k.ID, Warehouses: make([]WarehouseLevel, len(k.WarehouseInventory))}
				for i, w := range k.WarehouseInventory {
					lv.Warehouses[i] = WarehouseLevel{WarehouseID: w.WarehouseID, Available: w.AvailableQuantity, Committed: w.CommittedQuantity}
				}
				out = append(out, lv)
			}
		}
	}
	return out, nil
}
