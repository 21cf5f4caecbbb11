package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/registry"
)

// ClaimPlugin makes partner the owner of the plugin name unless a partner
// owns it already, and returns the owner: partner if the claim won.
// Concurrent claims agree on one owner.
func (s *Store) ClaimPlugin(ctx context.Context, name, partner string) (owner string, err error) {
	if err := checkText(name, partner); err != nil {
		return "", fmt.Errorf("claim plugin: %w", err)
	}
	// ON CONFLICT DO NOTHING waits for a concurrent claim to commit, so the
	// SELECT after it sees the winner.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO plugin_owners (plugin, partner, created)
		VALUES ($1, $2, $3) ON CONFLICT (plugin) DO NOTHING`, name, partner, micros(now())); err != nil {
		return "", fmt.Errorf("claim plugin %s: %w", name, err)
	}
	owner, err = s.PluginOwner(ctx, name)
	if err == nil && owner == "" {
		// Claimed and then released in between: not possible today, as
		// nothing deletes owners.
		err = fmt.Errorf("claim plugin %s: the claim vanished", name)
	}
	return owner, err
}

// PluginOwner returns the partner owning the plugin name, or "" if none.
func (s *Store) PluginOwner(ctx context.Context, name string) (string, error) {
	if checkText(name) != nil {
		return "", nil
	}
	var owner string
	err := s.read.QueryRowContext(ctx, `SELECT partner FROM plugin_owners WHERE plugin = $1`, name).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read owner of plugin %s: %w", name, err)
	}
	return owner, nil
}

// PutPlugin stores an uploaded version with its module, in one
// transaction with the partner's claim on the name and its quota check.
func (s *Store) PutPlugin(ctx context.Context, u registry.Upload) (created bool, err error) {
	if err := checkText(u.Name, u.Version, u.SHA256, u.Partner); err != nil {
		return false, fmt.Errorf("put plugin: %w", err)
	}
	var keep error // errors returned as they are
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var sha string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM plugin_versions WHERE plugin = $1 AND version = $2`, u.Name, u.Version).Scan(&sha)
		switch {
		case err == nil && sha == u.SHA256:
			return nil
		case err == nil:
			keep = fmt.Errorf("plugin %s %s: %w", u.Name, u.Version, registry.ErrConflict)
			return keep
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if u.Partner != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_owners (plugin, partner, created)
				VALUES ($1, $2, $3) ON CONFLICT (plugin) DO NOTHING`, u.Name, u.Partner, micros(now())); err != nil {
				return err
			}
			var owner string
			if err := tx.QueryRowContext(ctx, `SELECT partner FROM plugin_owners WHERE plugin = $1`, u.Name).Scan(&owner); err != nil {
				return err
			}
			if owner != u.Partner {
				keep = registry.OwnedError(u.Name)
				return keep
			}
			// The partner's uploads queue here, so that two cannot both
			// pass the quota.
			if _, err := tx.ExecContext(ctx, `SELECT plugin FROM plugin_owners WHERE partner = $1`+s.lockShop, u.Partner); err != nil {
				return err
			}
			var versions int
			var bytes int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(v.size), 0) FROM plugin_versions v
				JOIN plugin_owners o ON o.plugin = v.plugin WHERE o.partner = $1`, u.Partner).Scan(&versions, &bytes); err != nil {
				return err
			}
			q := u.Quota
			if (q.Versions > 0 && versions+1 > q.Versions) || (q.Bytes > 0 && bytes+int64(u.Size) > q.Bytes) {
				keep = registry.QuotaError(u.Partner, versions, bytes, q, u.Size)
				return keep
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_modules (sha256, module) VALUES ($1, $2)
			ON CONFLICT (sha256) DO NOTHING`, u.SHA256, u.Module); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_versions (plugin, version, sha256, size, abi_version, compile_us, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.Name, u.Version, u.SHA256, u.Size, int64(u.ABIVersion),
			u.CompileTime.Microseconds(), micros(u.Created.UTC().Truncate(time.Microsecond))); err != nil {
			return err
		}
		created = true
		return nil
	})
	switch {
	case keep != nil:
		return false, keep
	case isUnique(err): // stored by a concurrent upload since the SELECT
		return s.PutPlugin(ctx, u)
	case err != nil:
		return false, fmt.Errorf("put plugin %s %s: %w", u.Name, u.Version, err)
	}
	return created, nil
}

// DeletePlugin deletes a version that no shop's current settings
// reference. The version's row is locked first (PostgreSQL: FOR UPDATE;
// SQLite: the immediate transaction), and a settings write that names it
// locks it too before writing its references, so a delete and such a write
// are ordered: exactly one succeeds, on every replica.
func (s *Store) DeletePlugin(ctx context.Context, name, version string) error {
	if checkText(name, version) != nil {
		return fmt.Errorf("plugin %s %s: %w", name, version, registry.ErrNotFound)
	}
	var keep error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var sha string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM plugin_versions WHERE plugin = $1 AND version = $2`+s.lockShop, name, version).Scan(&sha)
		if errors.Is(err, sql.ErrNoRows) {
			keep = fmt.Errorf("plugin %s %s: %w", name, version, registry.ErrNotFound)
			return keep
		}
		if err != nil {
			return err
		}
		shops, err := collect(ctx, tx, scanString, `SELECT shop FROM shop_plugin_refs WHERE plugin = $1 AND version = $2 ORDER BY shop`, name, version)
		if err != nil {
			return err
		}
		if len(shops) > 0 {
			keep = &registry.InUseError{Name: name, Version: version, Shops: shops}
			return keep
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_versions WHERE plugin = $1 AND version = $2`, name, version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM plugin_modules WHERE sha256 = $1
			AND NOT EXISTS (SELECT 1 FROM plugin_versions WHERE sha256 = $1)`, sha)
		return err
	})
	if keep != nil {
		return keep
	}
	if err != nil {
		return fmt.Errorf("delete plugin %s %s: %w", name, version, err)
	}
	return nil
}

const pluginColumns = `v.plugin, v.version, v.sha256, v.size, v.abi_version, v.compile_us, v.created, COALESCE(o.partner, '')`

func scanPlugin(row interface{ Scan(...any) error }, extra ...any) (registry.Info, error) {
	var in registry.Info
	var abiVersion, compileUS, created int64
	dest := append([]any{&in.Name, &in.Version, &in.SHA256, &in.Size, &abiVersion, &compileUS, &created, &in.Owner}, extra...)
	if err := row.Scan(dest...); err != nil {
		return registry.Info{}, err
	}
	in.ABIVersion, in.CompileTime, in.Created = uint32(abiVersion), time.Duration(compileUS)*time.Microsecond, fromMicros(created)
	in.Source = registry.SourceUpload
	return in, nil
}

// Plugin returns a stored version with its module's bytes.
func (s *Store) Plugin(ctx context.Context, name, version string) (registry.Info, []byte, error) {
	if checkText(name, version) != nil {
		return registry.Info{}, nil, fmt.Errorf("plugin %s %s: %w", name, version, registry.ErrNotFound)
	}
	var module []byte
	in, err := scanPlugin(s.read.QueryRowContext(ctx, `SELECT `+pluginColumns+`, m.module FROM plugin_versions v
		JOIN plugin_modules m ON m.sha256 = v.sha256 LEFT JOIN plugin_owners o ON o.plugin = v.plugin
		WHERE v.plugin = $1 AND v.version = $2`, name, version), &module)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Info{}, nil, fmt.Errorf("plugin %s %s: %w", name, version, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Info{}, nil, fmt.Errorf("read plugin %s %s: %w", name, version, err)
	}
	return in, module, nil
}

// Plugins returns every stored version, without bytes, by name and
// version.
func (s *Store) Plugins(ctx context.Context) ([]registry.Info, error) {
	list, err := collect(ctx, s.read, func(r *sql.Rows) (registry.Info, error) { return scanPlugin(r) },
		`SELECT `+pluginColumns+` FROM plugin_versions v LEFT JOIN plugin_owners o ON o.plugin = v.plugin ORDER BY v.plugin, v.version`)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	return list, nil
}

// PluginsAfter returns every stored version of the first limit plugin
// names that sort after after ("": from the first), in byte order; with
// owners not nil, only names one of those partners owns. Names are
// compared byte by byte on both engines, as Go compares them, so that the
// caller can merge in the plugins config.toml lists.
func (s *Store) PluginsAfter(ctx context.Context, after string, owners []string, limit int) ([]registry.Info, error) {
	if err := checkText(append([]string{after}, owners...)...); err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	if owners != nil && len(owners) == 0 {
		return nil, nil
	}
	args := []any{after, pageLimit(limit)}
	owned := ""
	if owners != nil {
		marks := make([]string, len(owners))
		for i, o := range owners {
			args = append(args, o)
			marks[i] = fmt.Sprintf("$%d", len(args))
		}
		owned = ` JOIN plugin_owners po ON po.plugin = p.plugin AND po.partner IN (` + strings.Join(marks, ", ") + `)`
	}
	bytewise := s.collateBytes()
	list, err := collect(ctx, s.read, func(r *sql.Rows) (registry.Info, error) { return scanPlugin(r) },
		`SELECT `+pluginColumns+` FROM plugin_versions v LEFT JOIN plugin_owners o ON o.plugin = v.plugin
		WHERE v.plugin IN (SELECT p.plugin FROM plugin_versions p`+owned+`
			WHERE p.plugin`+bytewise+` > $1 GROUP BY p.plugin ORDER BY p.plugin`+bytewise+` LIMIT $2)
		ORDER BY v.plugin`+bytewise+`, v.version`, args...)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	return list, nil
}

// collateBytes makes a text comparison byte by byte: SQLite's is already,
// PostgreSQL's follows the database's locale unless told.
func (s *Store) collateBytes() string {
	if s.dialect == Postgres {
		return ` COLLATE "C"`
	}
	return ""
}

func scanString(r *sql.Rows) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}
