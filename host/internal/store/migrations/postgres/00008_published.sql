-- The sync's publications: the quantity TikTok Shop last accepted per
-- (shop, SKU, warehouse), the SKUs whose last push TikTok refused, and the
-- history of every publication and refusal.
-- A published row is written only after TikTok accepted the quantity, so
-- that a change is sent again until it is accepted. A refused SKU keeps
-- its published rows and gets a sync_failures row, removed by the next
-- accepted push.

-- +goose Up
CREATE TABLE published (
    shop         TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    sku_id       TEXT COLLATE "C" NOT NULL,
    warehouse_id TEXT NOT NULL,
    quantity     BIGINT NOT NULL,
    updated      BIGINT NOT NULL, -- microseconds since the epoch, UTC
    PRIMARY KEY (shop, sku_id, warehouse_id)
);

CREATE TABLE sync_failures (
    shop       TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    sku_id     TEXT NOT NULL,
    code       TEXT NOT NULL, -- TikTok's error code, or the client's reason
    message    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    failed     BIGINT NOT NULL, -- microseconds since the epoch, UTC
    PRIMARY KEY (shop, sku_id)
);

CREATE TABLE sync_history (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused: a page cursor
    shop             TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    at               BIGINT NOT NULL, -- microseconds since the epoch, UTC
    sku_id           TEXT NOT NULL,
    warehouse_id     TEXT NOT NULL,
    previous         BIGINT, -- NULL: nothing published before
    quantity         BIGINT NOT NULL, -- the new quantity
    outcome          TEXT NOT NULL, -- published, failed or refused
    cause            TEXT NOT NULL, -- a webhook id, settings:N, resync
    inputs           TEXT NOT NULL, -- JSON: the item's levels and flags as read
    settings_version BIGINT NOT NULL,
    modules          TEXT NOT NULL, -- JSON array of the rules that ran
    request_id       TEXT NOT NULL,
    error_code       TEXT NOT NULL,
    error_message    TEXT NOT NULL
);
CREATE INDEX sync_history_shop ON sync_history (shop, id);
CREATE INDEX sync_history_sku ON sync_history (shop, sku_id, id);
CREATE INDEX sync_history_time ON sync_history (at);

-- +goose Down
DROP TABLE sync_history;
DROP TABLE sync_failures;
DROP TABLE published;
