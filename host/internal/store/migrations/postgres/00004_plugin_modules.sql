-- Uploaded plugins live in the database, so that every replica sharing it
-- can run them: the module bytes once per sha256, and each version naming
-- its module. Plugins config.toml lists are each replica's own files and
-- have no row here.

-- +goose Up
CREATE TABLE plugin_modules (
    sha256 TEXT PRIMARY KEY, -- hex
    module BYTEA NOT NULL
);

CREATE TABLE plugin_versions (
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES plugin_modules (sha256),
    size        BIGINT NOT NULL,
    abi_version BIGINT NOT NULL,
    compile_us  BIGINT NOT NULL, -- the first compilation, at upload
    created     BIGINT NOT NULL,
    PRIMARY KEY (plugin, version)
);
CREATE INDEX plugin_versions_sha256 ON plugin_versions (sha256);

-- +goose Down
DROP TABLE plugin_versions;
DROP TABLE plugin_modules;
