-- When the first webhook that left an item pending was received, kept
-- while the item stays pending, so that the sync can measure the lag from
-- that receipt to TikTok accepting the item's quantity. 0: no webhook
-- left it pending (a settings change, a resync), or it was pending before
-- this column existed.

-- +goose Up
ALTER TABLE sync_pending ADD COLUMN since BIGINT NOT NULL DEFAULT 0; -- microseconds since the epoch, UTC

-- +goose Down
ALTER TABLE sync_pending DROP COLUMN since;
