-- Facts about the store itself, such as the check value of the key that
-- seals credentials.

-- +goose Up
CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- +goose Down
DROP TABLE store_meta;
