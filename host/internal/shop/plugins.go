package shop

import (
	"context"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/registry"
)

// HasPlugins reports whether the service runs plugins.
func (s *Service) HasPlugins() bool { return s.plugins != nil }

// Plugins returns every installed plugin version, by name and version. Any
// principal may list them.
func (s *Service) Plugins() []registry.Info { return s.plugins.List() }

// PluginVersions returns a plugin's versions.
func (s *Service) PluginVersions(name string) ([]registry.Info, error) {
	return s.plugins.Versions(name)
}

// PluginVersion returns one plugin version.
func (s *Service) PluginVersion(name, version string) (registry.Info, error) {
	return s.plugins.Get(name, version)
}

// CheckPluginName checks a plugin's name and version, before its module is
// read.
func CheckPluginName(name, version string) error { return registry.CheckName(name, version) }

// UploadPlugin installs a plugin version from its module. Admins may, and
// the partner that owns the name; a partner claims a name no one uses with
// its first accepted upload (a refused one claims nothing). The same bytes
// again change nothing (created false).
func (s *Service) UploadPlugin(ctx context.Context, p auth.Principal, name, version string, wasm []byte) (registry.Info, bool, error) {
	if err := registry.CheckName(name, version); err != nil {
		return registry.Info{}, false, err
	}
	if err := s.AuthorizePlugin(ctx, p, name); err != nil {
		return registry.Info{}, false, err
	}
	info, created, err := s.plugins.Put(ctx, name, version, wasm)
	if err != nil || p.Admin() {
		return info, created, err
	}
	if err := s.claimPlugin(ctx, p, name); err != nil {
		// Another partner claimed the name while this upload compiled.
		if created {
			s.refs.Lock()
			defer s.refs.Unlock()
			if derr := s.plugins.Delete(context.WithoutCancel(ctx), name, version); derr != nil {
				s.log.Error("undoing an upload whose name another partner claimed", "plugin", name, "version", version, "err", derr)
			}
		}
		return registry.Info{}, false, err
	}
	return info, created, nil
}

// DeletePlugin deletes a plugin version that no shop's settings reference.
func (s *Service) DeletePlugin(ctx context.Context, p auth.Principal, name, version string) error {
	if err := s.AuthorizePlugin(ctx, p, name); err != nil {
		return err
	}
	s.refs.Lock()
	defer s.refs.Unlock()
	return s.plugins.Delete(ctx, name, version)
}

// claimPlugin makes the partner of p the owner of name unless another
// partner owns it.
func (s *Service) claimPlugin(ctx context.Context, p auth.Principal, name string) error {
	partner := p.Partners()[0]
	owner, err := s.store.ClaimPlugin(ctx, name, partner)
	if err != nil {
		return fmt.Errorf("claiming plugin %s: %w", name, err)
	}
	if !p.Partner(owner) {
		return Errorf(Forbidden, "Plugin %q belongs to another partner. Choose another name.", name)
	}
	if owner == partner {
		s.log.Info("plugin name claimed", "plugin", name, "partner", owner, "token", p.TokenID)
	}
	return nil
}

// AuthorizePlugin lets admins, and the partner that owns the plugin name,
// change its versions; a partner may upload to a name no one uses (its
// first accepted upload claims it). Names the operator installed are no
// partner's.
func (s *Service) AuthorizePlugin(ctx context.Context, p auth.Principal, name string) error {
	if p.Admin() {
		return nil
	}
	partners := p.Partners()
	if len(partners) == 0 {
		return Errorf(Forbidden, "This needs a token with the admin scope, or the partner:{name} scope of the partner that owns the plugin.")
	}
	owner, err := s.store.PluginOwner(ctx, name)
	if err != nil {
		return err
	}
	if owner == "" {
		if infos, _ := s.plugins.Versions(name); len(infos) > 0 {
			return Errorf(Forbidden, "Plugin %q was installed by the operator; a partner cannot change it. Choose another name.", name)
		}
		return nil // unclaimed: an upload claims it, a delete finds nothing
	}
	if !p.Partner(owner) {
		return Errorf(Forbidden, "Plugin %q belongs to another partner. Choose another name.", name)
	}
	return nil
}
