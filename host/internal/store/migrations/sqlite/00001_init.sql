-- The first schema. Times are unix microseconds (INTEGER here, BIGINT on PostgreSQL);
-- JSON documents are TEXT so they come back byte for byte as stored.
-- Table names must not start with river_: River shares this database.
-- STRICT tables make SQLite refuse a value of the wrong type, as PostgreSQL does.

-- +goose Up
CREATE TABLE shops (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    locations        TEXT NOT NULL,
    warehouses       TEXT NOT NULL,
    settings_version INTEGER NOT NULL DEFAULT 0, -- 0: no settings yet
    created          INTEGER NOT NULL,
    updated          INTEGER NOT NULL
) STRICT;

CREATE TABLE settings_history (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL,
    created INTEGER NOT NULL,
    token   TEXT NOT NULL,
    PRIMARY KEY (shop, version)
) STRICT;

-- The plugin versions each shop's current settings reference.
CREATE TABLE shop_plugin_refs (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    plugin  TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (shop, plugin, version)
) STRICT;
CREATE INDEX shop_plugin_refs_plugin ON shop_plugin_refs (plugin, version);

CREATE TABLE shop_credentials (
    shop    TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    grp     TEXT NOT NULL,
    name    TEXT NOT NULL,
    sealed  BLOB NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (shop, grp, name)
) STRICT;

CREATE TABLE tokens (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    scopes  TEXT NOT NULL, -- JSON array of strings
    hash    BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL
) STRICT;

CREATE TABLE plugin_owners (
    plugin  TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    created INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE plugin_owners;
DROP TABLE tokens;
DROP TABLE shop_credentials;
DROP TABLE shop_plugin_refs;
DROP TABLE settings_history;
DROP TABLE shops;
