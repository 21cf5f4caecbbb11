-- The first schema. Times are unix microseconds (BIGINT) on both dialects;
-- JSON documents are TEXT so they come back byte for byte as stored.
-- Table names must not start with river_: River shares this database.

-- +goose Up
CREATE TABLE shops (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    locations        TEXT NOT NULL,
    warehouses       TEXT NOT NULL,
    settings_version BIGINT NOT NULL DEFAULT 0, -- 0: no settings yet
    created          BIGINT NOT NULL,
    updated          BIGINT NOT NULL
);

CREATE TABLE settings_history (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    doc     TEXT NOT NULL,
    created BIGINT NOT NULL,
    token   TEXT NOT NULL,
    PRIMARY KEY (shop, version)
);

-- The plugin versions each shop's current settings reference.
CREATE TABLE shop_plugin_refs (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    plugin  TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (shop, plugin, version)
);
CREATE INDEX shop_plugin_refs_plugin ON shop_plugin_refs (plugin, version);

CREATE TABLE shop_credentials (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    grp     TEXT NOT NULL,
    name    TEXT NOT NULL,
    sealed  BYTEA NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (shop, grp, name)
);

CREATE TABLE tokens (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    scopes  TEXT NOT NULL, -- JSON array of strings
    hash    BYTEA NOT NULL UNIQUE,
    created BIGINT NOT NULL
);

CREATE TABLE plugin_owners (
    plugin  TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    created BIGINT NOT NULL
);

-- +goose Down
DROP TABLE plugin_owners;
DROP TABLE tokens;
DROP TABLE shop_credentials;
DROP TABLE shop_plugin_refs;
DROP TABLE settings_history;
DROP TABLE shops;
