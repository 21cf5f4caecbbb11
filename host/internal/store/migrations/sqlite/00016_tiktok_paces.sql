-- Each shop's TikTok Shop pace, kept for the replicas of the service to
-- share (the store's UpdateTikTokPace): the rate the shop's requests go at,
-- when the next may go, and what the rate's climb and cuts remember. Times
-- are nanoseconds since the epoch on the database's clock; 0 is none yet.
-- One process serves a SQLite data folder and keeps its paces in memory:
-- the table is here for the store to be the same on both engines.

-- +goose Up
CREATE TABLE tiktok_paces (
    app_key      TEXT NOT NULL,                -- TikTok's limits are per app and shop
    shop_cipher  TEXT NOT NULL,
    rate         REAL NOT NULL DEFAULT 0,      -- requests a second; 0: the start rate
    next_at      INTEGER NOT NULL DEFAULT 0,   -- when the next request would go with no burst left
    window_start INTEGER NOT NULL DEFAULT 0,   -- the second being observed for a climb
    waited       INTEGER NOT NULL DEFAULT 0,   -- 0 or 1: a request waited within it
    last_cut     INTEGER NOT NULL DEFAULT 0,   -- when a 429 last halved the rate
    cut_from     REAL NOT NULL DEFAULT 0,      -- the rate TikTok then refused
    PRIMARY KEY (app_key, shop_cipher)
);

-- +goose Down
DROP TABLE tiktok_paces;
