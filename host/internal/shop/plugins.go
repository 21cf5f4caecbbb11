package shop

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/semver"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/registry"
)

// HasPlugins reports whether the service runs plugins.
func (s *Service) HasPlugins() bool { return s.plugins != nil }

// Who owns a plugin name: OwnedBy of PluginInfo and Plugin.
const (
	OwnedByOperator = "operator" // config-listed, or uploaded by an admin
	OwnedByPartner  = "partner"  // claimed by a partner's first upload
)

// PluginInfo is a plugin version as a principal sees it: Owner is the
// owning partner only where the principal may know it (PluginSeenBy).
type PluginInfo struct {
	registry.Info
	OwnedBy string // OwnedByOperator or OwnedByPartner
}

// PluginSeenBy is in as p sees it. Admins, tokens that act for no partner
// (a shop's) and the owner itself see which partner owns a plugin; another
// partner sees only that a partner does, as the errors it gets say
// "another partner": partners do not learn who else writes plugins here.
func PluginSeenBy(p auth.Principal, in registry.Info) PluginInfo {
	out := PluginInfo{Info: in, OwnedBy: OwnedByOperator}
	if in.Owner != "" {
		out.OwnedBy = OwnedByPartner
		if !p.Admin() && len(p.Partners()) > 0 && !p.Partner(in.Owner) {
			out.Owner = ""
		}
	}
	return out
}

// Plugin is a plugin name with its versions in semantic version order, as
// a principal sees it.
type Plugin struct {
	Name     string
	OwnedBy  string
	Owner    string // "" for the operator's, or where p may not know it
	Versions []PluginInfo
}

// PluginQuery asks for a page of plugins.
type PluginQuery struct {
	// After is the last name of the page before; "" for the first page.
	After string
	// Mine keeps the plugins owned by a partner the principal acts for:
	// none for a token without a partner:{name} scope.
	Mine bool
	// Limit is the most plugin names, each with all its versions (see
	// MaxPageSize).
	Limit int
}

// PluginPage returns at most q.Limit plugins, by name, each with all its
// versions, stored and config-listed alike, and whether more follow. Any
// principal may list them.
func (s *Service) PluginPage(ctx context.Context, p auth.Principal, q PluginQuery) ([]Plugin, bool, error) {
	limit := pageSize(q.Limit, DefaultPageSize, MaxPageSize)
	var owners []string
	if q.Mine {
		owners = p.Partners()
		if owners == nil {
			return []Plugin{}, false, nil
		}
	}
	// The stored names of this page are among the first limit+1 after
	// q.After; the config-listed ones are few and in memory.
	infos, err := s.store.PluginsAfter(ctx, q.After, owners, limit+1)
	if err != nil {
		return nil, false, err
	}
	if !q.Mine {
		conf, err := s.plugins.ListConfigured(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, in := range conf {
			if in.Name > q.After {
				infos = append(infos, in)
			}
		}
	}
	byName := map[string][]registry.Info{}
	var names []string
	for _, in := range infos {
		if byName[in.Name] == nil {
			names = append(names, in.Name)
		}
		byName[in.Name] = append(byName[in.Name], in)
	}
	slices.Sort(names)
	names, more := cut(names, limit)
	out := make([]Plugin, len(names))
	for i, name := range names {
		versions := byName[name]
		slices.SortFunc(versions, func(a, b registry.Info) int { return semver.Compare("v"+a.Version, "v"+b.Version) })
		out[i] = pluginSeenBy(p, name, versions)
	}
	return out, more, nil
}

// pluginSeenBy groups a name's versions, in order, as p sees them.
func pluginSeenBy(p auth.Principal, name string, versions []registry.Info) Plugin {
	out := Plugin{Name: name, OwnedBy: OwnedByOperator, Versions: make([]PluginInfo, len(versions))}
	for i, in := range versions {
		out.Versions[i] = PluginSeenBy(p, in)
		if in.Owner != "" { // a name has one owner; config-listed versions have none
			out.OwnedBy, out.Owner = out.Versions[i].OwnedBy, out.Versions[i].Owner
		}
	}
	return out
}

// PluginVersions returns a plugin's versions.
func (s *Service) PluginVersions(ctx context.Context, p auth.Principal, name string) (Plugin, error) {
	infos, err := s.plugins.Versions(ctx, name)
	if err != nil {
		return Plugin{}, err
	}
	return pluginSeenBy(p, name, infos), nil
}

// PluginVersion returns one plugin version.
func (s *Service) PluginVersion(ctx context.Context, p auth.Principal, name, version string) (PluginInfo, error) {
	in, err := s.plugins.Get(ctx, name, version)
	if err != nil {
		return PluginInfo{}, err
	}
	return PluginSeenBy(p, in), nil
}

// CheckPluginName checks a plugin's name and version, before its module is
// read.
func CheckPluginName(name, version string) error { return registry.CheckName(name, version) }

// UploadPlugin installs a plugin version from its module, for every
// replica. Admins may, and the partner that owns the name; a partner
// claims a name no one uses with its first accepted upload, in the same
// transaction that stores it (a refused upload claims nothing), within its
// quota. The same bytes again change nothing (created false).
func (s *Service) UploadPlugin(ctx context.Context, p auth.Principal, name, version string, wasm []byte) (registry.Info, bool, error) {
	if err := registry.CheckName(name, version); err != nil {
		return registry.Info{}, false, err
	}
	owner, err := s.authorizePlugin(ctx, p, name)
	if err != nil {
		return registry.Info{}, false, err
	}
	var claim registry.Claim
	if !p.Admin() {
		if owner == "" {
			owner = p.Partners()[0]
		}
		claim = registry.Claim{Partner: owner, Quota: s.quota}
	}
	info, created, err := s.plugins.Put(ctx, name, version, wasm, claim)
	if errors.Is(err, registry.ErrOwned) {
		return registry.Info{}, false, Errorf(Forbidden, "Plugin %q belongs to another partner. Choose another name.", name)
	}
	if errors.Is(err, registry.ErrQuota) {
		return registry.Info{}, false, &Error{Code: Conflict, Message: upper(err.Error()) + ".", Err: err}
	}
	if created && claim.Partner != "" {
		s.log.Info("plugin uploaded", "plugin", name, "version", version, "partner", claim.Partner, "token", p.TokenID)
	}
	return info, created, err
}

// DeletePlugin deletes a plugin version that no shop's settings reference.
// A partner learns how many shops use it, an admin which.
func (s *Service) DeletePlugin(ctx context.Context, p auth.Principal, name, version string) error {
	if err := s.AuthorizePlugin(ctx, p, name); err != nil {
		return err
	}
	err := s.plugins.Delete(ctx, name, version)
	var inUse *registry.InUseError
	if errors.As(err, &inUse) && !p.Admin() {
		what := fmt.Sprintf("%d shops' settings", len(inUse.Shops))
		if len(inUse.Shops) == 1 {
			what = "1 shop's settings"
		}
		return &Error{Code: Conflict, Err: err,
			Message: fmt.Sprintf("%s %s is used by %s; those shops must stop using it before it can be deleted.", name, version, what)}
	}
	return err
}

// AuthorizePlugin lets admins, and the partner that owns the plugin name,
// change its versions; a partner may upload to a name no one uses (its
// first accepted upload claims it). Names the operator installed are no
// partner's.
func (s *Service) AuthorizePlugin(ctx context.Context, p auth.Principal, name string) error {
	_, err := s.authorizePlugin(ctx, p, name)
	return err
}

// authorizePlugin is AuthorizePlugin that returns the partner owning the
// name, "" if none.
func (s *Service) authorizePlugin(ctx context.Context, p auth.Principal, name string) (owner string, err error) {
	if p.Admin() {
		return "", nil
	}
	if len(p.Partners()) == 0 {
		return "", Errorf(Forbidden, "This needs a token with the admin scope, or the partner:{name} scope of the partner that owns the plugin.")
	}
	if owner, err = s.store.PluginOwner(ctx, name); err != nil {
		return "", err
	}
	if owner == "" {
		if infos, _ := s.plugins.Versions(ctx, name); len(infos) > 0 {
			return "", Errorf(Forbidden, "Plugin %q was installed by the operator; a partner cannot change it. Choose another name.", name)
		}
		return "", nil // unclaimed: an upload claims it, a delete finds nothing
	}
	if !p.Partner(owner) {
		return "", Errorf(Forbidden, "Plugin %q belongs to another partner. Choose another name.", name)
	}
	return owner, nil
}

// upper starts s with an upper-case letter, for a sentence.
func upper(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
