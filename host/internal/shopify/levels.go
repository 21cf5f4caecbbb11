package shopify

import (
	"context"
	"fmt"
)

// ItemLevels is an inventory item with its variant and its available
// quantity per location: what the sync reads before it computes.
type ItemLevels struct {
	InventoryItemID string
	Tracked         bool
	VariantID       string
	SKU             string
	InventoryPolicy InventoryPolicy
	ProductID       string
	// Available is the available quantity by location id; a location where
	// the item is not stocked is absent.
	Available map[string]int
}

// InventoryLevels reads the levels of the inventory items given (global
// ids, "gid://shopify/InventoryItem/…"), as many per nodes query as the
// query cost allows (at most 250). Items come back in the order asked; an
// id that names no inventory item (deleted since) is left out.
func (c *Client) InventoryLevels(ctx context.Context, itemIDs []string) ([]ItemLevels, error) {
	const q = `query ItemLevels($ids: [ID!]!, $levels: Int!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id tracked
      variant { id sku inventoryPolicy product { id } }
      inventoryLevels(first: $levels) {
        edges { node { ` + levelFields + ` } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`
	if len(itemIDs) == 0 {
		return nil, nil
	}
	levels, err := c.levelsPerItem(ctx)
	if err != nil {
		return nil, err
	}
	// Each item: itself, its variant, the variant's product, and a
	// connection of levels.
	each := 3 + 2 + levels*levelCost
	batch := perQuery(each, maxIDs)
	out := make([]ItemLevels, 0, len(itemIDs))
	for start := 0; start < len(itemIDs); start += batch {
		ids := itemIDs[start:min(start+batch, len(itemIDs))]
		var page struct {
			Nodes []*struct {
				ID      string `json:"id"`
				Tracked bool   `json:"tracked"`
				Variant *struct {
					ID              string `json:"id"`
					SKU             string `json:"sku"`
					InventoryPolicy string `json:"inventoryPolicy"`
					Product         struct {
						ID string `json:"id"`
					} `json:"product"`
				} `json:"variant"`
				InventoryLevels wireLevels `json:"inventoryLevels"`
			} `json:"nodes"`
		}
		op := fmt.Sprintf("itemLevels(%d×%d)", len(ids), levels)
		if err := c.query(ctx, op, float64(len(ids)*each), q, map[string]any{"ids": ids, "levels": levels}, &page); err != nil {
			return nil, err
		}
		for _, n := range page.Nodes {
			if n == nil || n.ID == "" {
				continue
			}
			it := ItemLevels{InventoryItemID: n.ID, Tracked: n.Tracked, Available: make(map[string]int, len(n.InventoryLevels.Edges))}
			if v := n.Variant; v != nil {
				it.VariantID, it.SKU, it.ProductID = v.ID, v.SKU, v.Product.ID
				it.InventoryPolicy = InventoryPolicy(v.InventoryPolicy)
			}
			for _, e := range n.InventoryLevels.Edges {
				addAvailable(it.Available, e.Node)
			}
			if p := n.InventoryLevels.PageInfo; p.HasNextPage {
				if err := c.moreLevels(ctx, n.ID, p.EndCursor, it.Available); err != nil {
					return nil, err
				}
			}
			out = append(out, it)
		}
	}
	return out, nil
}
