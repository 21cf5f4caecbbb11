-- Connecting a shop: its permanent myshopify domain (unique, NULL while
-- unset so that any number of shops may have none) and whether its
-- locations and warehouses come from the platforms; its catalog as last
-- imported, each row with its link; and the runs that import it.
-- A catalog row carries the id of the run that last read it, so that the
-- rows a run did not see (gone from the platform) can be pruned.
-- Link columns: status ('' until linking ran), the partner's ids when
-- linked, and why not otherwise.
-- Catalog ids and SKUs collate byte by byte, as on SQLite, so that pages
-- by id and linking in SKU order follow one order whatever the database's
-- locale.

-- +goose Up
ALTER TABLE shops ADD COLUMN shopify_domain TEXT;
ALTER TABLE shops ADD COLUMN connected BOOLEAN NOT NULL DEFAULT false;
CREATE UNIQUE INDEX shops_shopify_domain ON shops (shopify_domain);

CREATE TABLE catalog_variants (
    shop              TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    id                TEXT COLLATE "C" NOT NULL, -- Shopify variant id
    product_id        TEXT NOT NULL,
    sku               TEXT COLLATE "C" NOT NULL,
    tags              TEXT NOT NULL, -- JSON array of strings
    inventory_policy  TEXT NOT NULL,
    inventory_item_id TEXT NOT NULL,
    tracked           BOOLEAN NOT NULL,
    available         TEXT NOT NULL, -- JSON object: location id -> quantity
    run               BIGINT NOT NULL,
    link_status       TEXT NOT NULL DEFAULT '',
    link_variant_id   TEXT NOT NULL DEFAULT '',
    link_sku_id       TEXT NOT NULL DEFAULT '',
    link_product_id   TEXT NOT NULL DEFAULT '', -- the TikTok product
    link_reason       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (shop, id)
);
CREATE INDEX catalog_variants_status ON catalog_variants (shop, link_status, id);
CREATE INDEX catalog_variants_sku ON catalog_variants (shop, sku, id);

CREATE TABLE catalog_tiktok_skus (
    shop            TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL, -- TikTok Shop SKU id
    product_id      TEXT NOT NULL,
    seller_sku      TEXT COLLATE "C" NOT NULL,
    warehouses      TEXT NOT NULL, -- JSON array of warehouse ids
    quantities      TEXT NOT NULL, -- JSON object: warehouse id -> quantity
    run             BIGINT NOT NULL,
    link_status     TEXT NOT NULL DEFAULT '',
    link_variant_id TEXT NOT NULL DEFAULT '',
    link_sku_id     TEXT NOT NULL DEFAULT '',
    link_product_id TEXT NOT NULL DEFAULT '',
    link_reason     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (shop, id)
);
CREATE INDEX catalog_tiktok_skus_status ON catalog_tiktok_skus (shop, link_status, id);
CREATE INDEX catalog_tiktok_skus_seller_sku ON catalog_tiktok_skus (shop, seller_sku, id);

-- Ids are global, so that a catalog row's run names one run.
CREATE TABLE runs (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop     TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    phase    TEXT NOT NULL,
    done     BIGINT NOT NULL,
    total    BIGINT NOT NULL,
    counts   TEXT NOT NULL, -- JSON object of link counts
    error    TEXT NOT NULL,
    token    TEXT NOT NULL,
    started  BIGINT NOT NULL,
    updated  BIGINT NOT NULL,
    finished BIGINT -- NULL while running
);
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
