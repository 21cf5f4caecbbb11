-- Connecting a shop: its permanent myshopify domain (unique, NULL while
-- unset so that any number of shops may have none) and whether its
-- locations and warehouses come from the platforms; its catalog as last
-- imported, each row with its link; and the runs that import it.
-- A catalog row carries the id of the run that last read it, so that the
-- rows a run did not see (gone from the platform) can be pruned.
-- Link columns: status ('' until linking ran), the partner's ids when
-- linked, and why not otherwise.

-- +goose Up
ALTER TABLE shops ADD COLUMN shopify_domain TEXT;
ALTER TABLE shops ADD COLUMN connected INTEGER NOT NULL DEFAULT 0; -- 0 or 1
CREATE UNIQUE INDEX shops_shopify_domain ON shops (shopify_domain);

CREATE TABLE catalog_variants (
    shop              TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    id                TEXT NOT NULL, -- Shopify variant id
    product_id        TEXT NOT NULL,
    sku               TEXT NOT NULL,
    tags              TEXT NOT NULL, -- JSON array of strings
    inventory_policy  TEXT NOT NULL,
    inventory_item_id TEXT NOT NULL,
    tracked           INTEGER NOT NULL, -- 0 or 1
    available         TEXT NOT NULL, -- JSON object: location id -> quantity
    run               INTEGER NOT NULL,
    link_status       TEXT NOT NULL DEFAULT '',
    link_variant_id   TEXT NOT NULL DEFAULT '',
    link_sku_id       TEXT NOT NULL DEFAULT '',
    link_product_id   TEXT NOT NULL DEFAULT '', -- the TikTok product
    link_reason       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (shop, id)
) STRICT;
CREATE INDEX catalog_variants_status ON catalog_variants (shop, link_status, id);
CREATE INDEX catalog_variants_sku ON catalog_variants (shop, sku, id);

CREATE TABLE catalog_tiktok_skus (
    shop            TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    id              TEXT NOT NULL, -- TikTok Shop SKU id
    product_id      TEXT NOT NULL,
    seller_sku      TEXT NOT NULL,
    warehouses      TEXT NOT NULL, -- JSON array of warehouse ids
    quantities      TEXT NOT NULL, -- JSON object: warehouse id -> quantity
    run             INTEGER NOT NULL,
    link_status     TEXT NOT NULL DEFAULT '',
    link_variant_id TEXT NOT NULL DEFAULT '',
    link_sku_id     TEXT NOT NULL DEFAULT '',
    link_product_id TEXT NOT NULL DEFAULT '',
    link_reason     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (shop, id)
) STRICT;
CREATE INDEX catalog_tiktok_skus_status ON catalog_tiktok_skus (shop, link_status, id);
CREATE INDEX catalog_tiktok_skus_seller_sku ON catalog_tiktok_skus (shop, seller_sku, id);

-- Ids are global, so that a catalog row's run names one run.
CREATE TABLE runs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    shop     TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    phase    TEXT NOT NULL,
    done     INTEGER NOT NULL,
    total    INTEGER NOT NULL,
    counts   TEXT NOT NULL, -- JSON object of link counts
    error    TEXT NOT NULL,
    token    TEXT NOT NULL,
    started  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    finished INTEGER -- NULL while running
) STRICT;
CREATE INDEX runs_shop ON runs (shop, id);
-- At most one running run per shop, whichever replica starts it.
CREATE UNIQUE INDEX runs_one_running ON runs (shop) WHERE state = 'running';

-- +goose Down
DROP TABLE runs;
DROP TABLE catalog_tiktok_skus;
DROP TABLE catalog_variants;
DROP INDEX shops_shopify_domain;
ALTER TABLE shops DROP COLUMN connected;
ALTER TABLE shops DROP COLUMN shopify_domain;
