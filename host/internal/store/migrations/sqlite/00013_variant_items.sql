-- The sync reads its batches' linked variants by inventory item: without
-- this index each batch scanned every linked variant of the shop, so a
-- whole-shop republish grew with the square of the catalog.

-- +goose Up
CREATE INDEX catalog_variants_item ON catalog_variants (shop, inventory_item_id, link_status);

-- +goose Down
DROP INDEX catalog_variants_item;
