package shop

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/registry"
)

// HasPlugins reports whether the service runs plugins.
func (s *Service) HasPlugins() bool { return s.plugins != nil }

// Plugins returns every installed plugin version, by name and version. Any
// principal may list them.
func (s *Service) Plugins(ctx context.Context) ([]registry.Info, error) { return s.plugins.List(ctx) }

// PluginVersions returns a plugin's versions.
func (s *Service) PluginVersions(ctx context.Context, name string) ([]registry.Info, error) {
	return s.plugins.Versions(ctx, name)
}

// PluginVersion returns one plugin version.
func (s *Service) PluginVersion(ctx context.Context, name, version string) (registry.Info, error) {
	return s.plugins.Get(ctx, name, version)
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
