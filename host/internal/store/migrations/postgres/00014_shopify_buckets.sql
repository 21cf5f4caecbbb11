-- Each shop's Shopify cost bucket, kept for the replicas of the service to
-- share (the store's ReserveShopifyCost): the points every process may
-- still spend, net of what requests in flight took. Times are seconds
-- since the epoch on the database's clock, the one clock replicas share.

-- +goose Up
CREATE TABLE shopify_buckets (
    domain    TEXT PRIMARY KEY,                   -- the shop's myshopify domain
    maximum   DOUBLE PRECISION NOT NULL,          -- the bucket's size, as last reported
    available DOUBLE PRECISION NOT NULL,          -- what it held at `at`, net of inflight
    rate      DOUBLE PRECISION NOT NULL,          -- its refill, points a second
    inflight  DOUBLE PRECISION NOT NULL DEFAULT 0, -- taken by requests not yet answered
    at        DOUBLE PRECISION NOT NULL           -- when `available` was computed
);

-- +goose Down
DROP TABLE shopify_buckets;
