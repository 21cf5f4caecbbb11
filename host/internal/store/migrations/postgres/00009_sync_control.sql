-- The sync's controls: a paused shop records its webhooks (its items stay
-- pending) but publishes nothing until it is resumed. A blocked shop (not
-- connected, no valid settings, TikTok's re-authorisation) is recorded as
-- blocked at its sync_unblocks, which every change that may unblock it
-- (connect, settings, credentials, resume) bumps in the transaction that
-- enqueues its job: its job ends while it stays blocked, and one that runs
-- while such a change commits sees the change. The indexes keep the
-- status's figures cheap: the most recent failures of a shop, and the time
-- of its last publication.

-- +goose Up
ALTER TABLE shops ADD COLUMN sync_paused BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE shops ADD COLUMN sync_unblocks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shops ADD COLUMN sync_blocked BIGINT NOT NULL DEFAULT -1; -- the sync_unblocks it was found blocked at
CREATE INDEX sync_failures_recent ON sync_failures (shop, failed);
CREATE INDEX published_updated ON published (shop, updated);

-- +goose Down
DROP INDEX published_updated;
DROP INDEX sync_failures_recent;
ALTER TABLE shops DROP COLUMN sync_blocked;
ALTER TABLE shops DROP COLUMN sync_unblocks;
ALTER TABLE shops DROP COLUMN sync_paused;
