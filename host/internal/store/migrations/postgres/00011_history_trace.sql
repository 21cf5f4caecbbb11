-- What a sync history entry needs to answer "why" and to be replayed:
-- the item's trace through the rules (compute with explain) and the
-- quantities the rules computed for every warehouse of the item. The
-- modules column now holds [{name, version, sha256}] of every module
-- that ran, the default rule first. Entries written before keep '[]' and
-- '{}': they cannot be replayed.

-- +goose Up
ALTER TABLE sync_history ADD COLUMN trace TEXT NOT NULL DEFAULT '[]'; -- JSON: the item's stages
ALTER TABLE sync_history ADD COLUMN computed TEXT NOT NULL DEFAULT '{}'; -- JSON: warehouse id → quantity
CREATE INDEX sync_history_cause ON sync_history (shop, cause, id);

-- +goose Down
DROP INDEX sync_history_cause;
ALTER TABLE sync_history DROP COLUMN computed;
ALTER TABLE sync_history DROP COLUMN trace;
