-- A shop's revision counts its changes, so that a settings write can tell
-- whether the shop it validated against is still the shop it writes to.

-- +goose Up
ALTER TABLE shops ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE shops DROP COLUMN revision;
