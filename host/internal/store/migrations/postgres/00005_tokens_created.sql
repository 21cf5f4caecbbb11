-- The token list is read a page at a time in (created, id) order, each page
-- after the last token of the one before: an index finds where it starts.

-- +goose Up
CREATE INDEX tokens_created ON tokens (created, id);

-- +goose Down
DROP INDEX tokens_created;
