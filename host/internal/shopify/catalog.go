package shopify

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// Shop is what the Admin API says about the shop itself.
type Shop struct {
	Name string
	// MyshopifyDomain is the shop's permanent domain, "acme.myshopify.com".
	MyshopifyDomain string
}

// Location is a place the shop keeps stock. IDs are global ids,
// "gid://shopify/Location/123", kept as strings: the numbers exceed 2^53.
type Location struct {
	ID     string
	Name   string
	Active bool
}

// InventoryPolicy says whether a variant sells once its stock is gone.
type InventoryPolicy string

// The inventory policies.
const (
	// PolicyDeny stops selling at zero.
	PolicyDeny InventoryPolicy = "DENY"
	// PolicyContinue keeps selling below zero ("continue selling when out
	// of stock").
	PolicyContinue InventoryPolicy = "CONTINUE"
)

// Variant is one sellable variant of the catalog with its stock.
type Variant struct {
	ID        string
	ProductID string
	SKU       string
	// Tags are the product's tags.
	Tags            []string
	InventoryPolicy InventoryPolicy
	InventoryItemID string
	// Tracked: Shopify counts this variant's stock. An untracked variant's
	// quantities mean nothing.
	Tracked bool
	// Available is the available quantity by location id. A location where
	// the item is not stocked is absent.
	Available map[string]int
}

// ContinueSelling says whether the variant sells when out of stock.
func (v Variant) ContinueSelling() bool { return v.InventoryPolicy == PolicyContinue }

// Wire shapes shared by the reads.

type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

type wireQuantity struct {
	Name     string `json:"name"`
	Quantity *int   `json:"quantity"`
}

type wireLevel struct {
	Location struct {
		ID string `json:"id"`
	} `json:"location"`
	Quantities []wireQuantity `json:"quantities"`
}

type wireLevels struct {
	Edges []struct {
		Node wireLevel `json:"node"`
	} `json:"edges"`
	PageInfo pageInfo `json:"pageInfo"`
}

// addAvailable records a level's available quantity in m.
func addAvailable(m map[string]int, l wireLevel) {
	for _, q := range l.Quantities {
		if q.Name == "available" && q.Quantity != nil && l.Location.ID != "" {
			m[l.Location.ID] = *q.Quantity
		}
	}
}

// levelFields select a level's location and available quantity.
const levelFields = `location { id } quantities(names: ["available"]) { name quantity }`

// levelCost is what one inventory level costs in a query: the level, its
// location and its quantities.
const levelCost = 3

// Shop reads the shop's name and domain.
func (c *Client) Shop(ctx context.Context) (Shop, error) {
	var out struct {
		Shop struct {
			Name            string `json:"name"`
			MyshopifyDomain string `json:"myshopifyDomain"`
		} `json:"shop"`
	}
	if err := c.query(ctx, "shop", 1, `query Shop { shop { name myshopifyDomain } }`, nil, &out); err != nil {
		return Shop{}, err
	}
	return Shop{Name: out.Shop.Name, MyshopifyDomain: out.Shop.MyshopifyDomain}, nil
}

// Locations reads every location of the shop, active or not.
func (c *Client) Locations(ctx context.Context) ([]Location, error) {
	const q = `query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: true) {
    edges { node { id name isActive } }
    pageInfo { hasNextPage endCursor }
  }
}`
	var all []Location
	vars := map[string]any{"first": maxPage}
	for {
		var out struct {
			Locations struct {
				Edges []struct {
					Node struct {
						ID       string `json:"id"`
						Name     string `json:"name"`
						IsActive bool   `json:"isActive"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"locations"`
		}
		if err := c.query(ctx, "locations", 2+maxPage, q, vars, &out); err != nil {
			return nil, err
		}
		for _, e := range out.Locations.Edges {
			all = append(all, Location{ID: e.Node.ID, Name: e.Node.Name, Active: e.Node.IsActive})
		}
		if !out.Locations.PageInfo.HasNextPage {
			break
		}
		if out.Locations.PageInfo.EndCursor == "" {
			return nil, errors.New("shopify: locations: a page says more follow but gives no cursor")
		}
		vars["after"] = out.Locations.PageInfo.EndCursor
	}
	c.mu.Lock()
	c.locations = len(all)
	c.mu.Unlock()
	return all, nil
}

// levelsPerItem is how many inventory levels a query asks for per item:
// one per location of the shop, read once. An item stocked at more (a
// location added since) has the rest read by moreLevels.
func (c *Client) levelsPerItem(ctx context.Context) (int, error) {
	c.mu.Lock()
	n := c.locations
	c.mu.Unlock()
	if n == 0 {
		locs, err := c.Locations(ctx)
		if err != nil {
			return 0, err
		}
		n = len(locs)
	}
	return min(max(n, 1), maxPage), nil
}

// perQuery is how many objects of the given cost fit one query, after
// the connection's own 2, from 1 to limit.
func perQuery(each, limit int) int {
	return min(max((maxQueryCost-2)/each, 1), limit)
}

// moreLevels reads the levels of an item after the cursor into avail.
func (c *Client) moreLevels(ctx context.Context, itemID, after string, avail map[string]int) error {
	const q = `query MoreLevels($id: ID!, $first: Int!, $after: String) {
  inventoryItem(id: $id) {
    inventoryLevels(first: $first, after: $after) {
      edges { node { ` + levelFields + ` } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`
	first := perQuery(levelCost, maxPage)
	for after != "" {
		var out struct {
			InventoryItem *struct {
				InventoryLevels wireLevels `json:"inventoryLevels"`
			} `json:"inventoryItem"`
		}
		vars := map[string]any{"id": itemID, "first": first, "after": after}
		if err := c.query(ctx, "moreLevels", float64(3+first*levelCost), q, vars, &out); err != nil {
			return err
		}
		if out.InventoryItem == nil {
			return nil // deleted meanwhile
		}
		for _, e := range out.InventoryItem.InventoryLevels.Edges {
			addAvailable(avail, e.Node)
		}
		after = ""
		if p := out.InventoryItem.InventoryLevels.PageInfo; p.HasNextPage {
			after = p.EndCursor
		}
	}
	return nil
}

// errStop ends a walk because the consumer stopped.
var errStop = errors.New("stop")

// Catalog reads every variant of the catalog, one at a time, in the
// catalog's order. A catalog of more than BulkAbove variants is read with
// a bulk operation, a smaller one page by page; either way the variants
// are streamed, so memory does not grow with the catalog. An error ends
// the sequence, as its last pair.
func (c *Client) Catalog(ctx context.Context) iter.Seq2[Variant, error] {
	return func(yield func(Variant, error) bool) {
		bulk := c.bulkAbove == 0
		if !bulk {
			n, err := c.variantsCount(ctx)
			if err != nil {
				yield(Variant{}, err)
				return
			}
			bulk = n > c.bulkAbove
		}
		walk := c.catalogPages
		if bulk {
			walk = c.catalogBulk
		}
		err := walk(ctx, func(v Variant) error {
			if !yield(v, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Variant{}, err)
		}
	}
}

// VariantsCount counts the catalog's variants, for progress. Past
// Shopify's counting limit the count is a lower bound: exact is false.
func (c *Client) VariantsCount(ctx context.Context) (count int, exact bool, err error) {
	var out struct {
		ProductVariantsCount *struct {
			Count     int    `json:"count"`
			Precision string `json:"precision"`
		} `json:"productVariantsCount"`
	}
	if err := c.query(ctx, "variantsCount", 1, `query VariantsCount { productVariantsCount { count precision } }`, nil, &out); err != nil {
		return 0, false, err
	}
	n := out.ProductVariantsCount
	if n == nil {
		return 0, false, errors.New("shopify: variantsCount: the answer has no productVariantsCount")
	}
	return n.Count, n.Precision != "AT_LEAST", nil
}

// variantsCount is VariantsCount for choosing the path: a lower bound
// counts one more, which decides for bulk when Shopify's counting limit is
// at or below BulkAbove.
func (c *Client) variantsCount(ctx context.Context) (int, error) {
	n, exact, err := c.VariantsCount(ctx)
	if err == nil && !exact {
		n++
	}
	return n, err
}

type wireVariant struct {
	ID              string `json:"id"`
	SKU             string `json:"sku"`
	InventoryPolicy string `json:"inventoryPolicy"`
	Product         struct {
		ID   string   `json:"id"`
		Tags []string `json:"tags"`
	} `json:"product"`
	InventoryItem struct {
		ID              string     `json:"id"`
		Tracked         bool       `json:"tracked"`
		InventoryLevels wireLevels `json:"inventoryLevels"`
	} `json:"inventoryItem"`
}

// catalogPages walks the catalog page by page.
func (c *Client) catalogPages(ctx context.Context, emit func(Variant) error) error {
	const q = `query Variants($first: Int!, $after: String, $levels: Int!) {
  productVariants(first: $first, after: $after) {
    edges { node {
      id sku inventoryPolicy
      product { id tags }
      inventoryItem { id tracked
        inventoryLevels(first: $levels) {
          edges { node { ` + levelFields + ` } }
          pageInfo { hasNextPage endCursor }
        }
      }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`
	levels, err := c.levelsPerItem(ctx)
	if err != nil {
		return err
	}
	// Each variant: itself, its product, its item, and a connection of
	// levels.
	first := perQuery(3+2+levels*levelCost, maxPage)
	op := fmt.Sprintf("variants(%d×%d)", first, levels)
	vars := map[string]any{"first": first, "levels": levels}
	for {
		var out struct {
			ProductVariants struct {
				Edges []struct {
					Node wireVariant `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"productVariants"`
		}
		if err := c.query(ctx, op, float64(2+first*(5+levels*levelCost)), q, vars, &out); err != nil {
			return err
		}
		for _, e := range out.ProductVariants.Edges {
			w := e.Node
			v := Variant{
				ID: w.ID, ProductID: w.Product.ID, SKU: w.SKU, Tags: w.Product.Tags,
				InventoryPolicy: InventoryPolicy(w.InventoryPolicy),
				InventoryItemID: w.InventoryItem.ID, Tracked: w.InventoryItem.Tracked,
				Available: make(map[string]int, len(w.InventoryItem.InventoryLevels.Edges)),
			}
			for _, l := range w.InventoryItem.InventoryLevels.Edges {
				addAvailable(v.Available, l.Node)
			}
			if p := w.InventoryItem.InventoryLevels.PageInfo; p.HasNextPage {
				if err := c.moreLevels(ctx, v.InventoryItemID, p.EndCursor, v.Available); err != nil {
					return err
				}
			}
			if err := emit(v); err != nil {
				return err
			}
		}
		p := out.ProductVariants.PageInfo
		if !p.HasNextPage {
			return nil
		}
		if p.EndCursor == "" {
			return errors.New("shopify: variants: a page says more follow but gives no cursor")
		}
		vars["after"] = p.EndCursor
	}
}
