-- Shopify webhooks: each receipt, deduplicated by Shopify's webhook id
-- (retries repeat it), and the inventory items a shop's sync still has to
-- read, written in the transaction that records the receipt and enqueues
-- the shop's sync job.
-- A pending row's seq is taken from one sequence on every upsert, so that
-- a worker that read an item deletes it only if no webhook touched it
-- since (seq <= the seq it read). The item '*' stands for every item of
-- the shop (a location changed).

-- +goose Up
CREATE TABLE webhook_receipts (
    shop         TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    webhook_id   TEXT NOT NULL, -- X-Shopify-Webhook-Id
    topic        TEXT NOT NULL,
    received     BIGINT NOT NULL, -- microseconds since the epoch, UTC
    triggered_at TEXT NOT NULL, -- X-Shopify-Triggered-At as sent, '' if absent
    body_sha256  BYTEA NOT NULL,
    body         BYTEA NOT NULL,
    PRIMARY KEY (shop, webhook_id)
);
CREATE INDEX webhook_receipts_received ON webhook_receipts (received);

CREATE SEQUENCE sync_pending_seq;

CREATE TABLE sync_pending (
    shop              TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    inventory_item_id TEXT COLLATE "C" NOT NULL, -- gid://shopify/InventoryItem/N, or '*'
    seq               BIGINT NOT NULL,
    cause             TEXT NOT NULL, -- the webhook id of the last upsert
    PRIMARY KEY (shop, inventory_item_id)
);
CREATE INDEX sync_pending_order ON sync_pending (shop, seq);

-- A products/delete names only the product: its variants are found here.
CREATE INDEX catalog_variants_product ON catalog_variants (shop, product_id);

-- +goose Down
DROP INDEX catalog_variants_product;
DROP TABLE sync_pending;
DROP SEQUENCE sync_pending_seq;
DROP TABLE webhook_receipts;
