package shop

import (
	"context"

	"github.com/syncrules/syncrules/host/internal/auth"
)

// Lists are read a page at a time: at most a page size of entries after
// the key of the last entry the caller has, so that a page costs the same
// wherever it is in the list and rows written meanwhile are neither
// skipped nor repeated.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// A settings version holds a whole settings document, so history
	// pages are smaller.
	DefaultHistoryPageSize = 20
	MaxHistoryPageSize     = 100
)

// pageSize is limit within 1 and most; 0 or less is def. Adapters refuse
// a size out of range with a message; this only keeps a query bounded.
func pageSize(limit, def, most int) int {
	switch {
	case limit <= 0:
		return def
	case limit > most:
		return most
	}
	return limit
}

// cut trims a list read with one entry more than limit, reporting whether
// that entry was there: whether another page follows.
func cut[T any](list []T, limit int) ([]T, bool) {
	if len(list) > limit {
		return list[:limit], true
	}
	if list == nil {
		list = []T{}
	}
	return list, false
}

// ShopPage returns at most limit shops whose ids sort after after ("":
// from the first), by id, and whether more follow. Admins only.
func (s *Service) ShopPage(ctx context.Context, p auth.Principal, after string, limit int) ([]Shop, bool, error) {
	if err := CheckAdmin(p); err != nil {
		return nil, false, err
	}
	limit = pageSize(limit, DefaultPageSize, MaxPageSize)
	shops, err := s.store.ShopsAfter(ctx, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	shops, more := cut(shops, limit)
	return shops, more, nil
}

// TokenPage returns at most limit tokens after the one after names (the
// zero TokenKey: from the first), oldest first, never their secrets, and
// whether more follow. Admins only.
func (s *Service) TokenPage(ctx context.Context, p auth.Principal, after TokenKey, limit int) ([]Token, bool, error) {
	if err := CheckAdmin(p); err != nil {
		return nil, false, err
	}
	limit = pageSize(limit, DefaultPageSize, MaxPageSize)
	tokens, err := s.store.TokensAfter(ctx, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	tokens, more := cut(tokens, limit)
	return tokens, more, nil
}
