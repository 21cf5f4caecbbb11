-- Reconciliation: what TikTok Shop showed when the sync last read a SKU
-- back, per (shop, SKU, warehouse), and each shop's reconciliation: when it
-- last started and how far it got (a large shop's takes several turns).
-- below_since is when the read-back was first seen below the rule's
-- quantity, in a run of read-backs that all were (NULL otherwise): a
-- quantity below is raised only once it has stayed below for raise_grace,
-- since TikTok lowers its own stock for an order before Shopify hears of it.

-- +goose Up
CREATE TABLE sync_read_back (
    shop         TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    sku_id       TEXT COLLATE "C" NOT NULL,
    warehouse_id TEXT NOT NULL,
    quantity     BIGINT NOT NULL, -- available, as TikTok showed it
    committed    BIGINT NOT NULL, -- held for orders not yet shipped
    read_at      BIGINT NOT NULL, -- microseconds since the epoch, UTC
    below_since  BIGINT, -- microseconds since the epoch, UTC; NULL: not below
    PRIMARY KEY (shop, sku_id, warehouse_id)
);

CREATE TABLE sync_reconciles (
    shop    TEXT PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    started BIGINT NOT NULL, -- microseconds since the epoch, UTC
    resume_after TEXT NOT NULL -- the last variant id reconciled; '' once done
);

-- +goose Down
DROP TABLE sync_reconciles;
DROP TABLE sync_read_back;
