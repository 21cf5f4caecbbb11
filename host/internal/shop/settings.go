package shop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// SettingsVersion is one version of a shop's settings.
type SettingsVersion struct {
	// Version counts the shop's settings writes; 0 means none yet, and
	// Settings are then the defaults.
	Version  int64
	Settings *compute.Settings
	Created  time.Time // zero when Version is 0
	Token    string    // id of the token that wrote it
}

// EncodeSettings is how settings are stored: the JSON object a request
// sends, with every number as it was written.
func EncodeSettings(st *compute.Settings) ([]byte, error) {
	b, err := jsonv2.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding settings: %w", err)
	}
	return b, nil
}

// DecodeSettings reads stored settings; none stored are the defaults.
func DecodeSettings(doc []byte) (*compute.Settings, error) {
	st := new(compute.Settings)
	if len(doc) == 0 {
		return st, nil
	}
	if err := compute.Decode(doc, st, "settings"); err != nil {
		return nil, fmt.Errorf("stored settings: %w", err)
	}
	return st, nil
}

func versionOf(st StoredSettings) (SettingsVersion, error) {
	settings, err := DecodeSettings(st.Doc)
	if err != nil {
		return SettingsVersion{}, fmt.Errorf("shop %q settings version %d: %w", st.Shop, st.Version, err)
	}
	return SettingsVersion{Version: st.Version, Settings: settings, Created: st.Created, Token: st.Token}, nil
}

// checkSettings validates settings against the shop's locations,
// warehouses and installed plugins as a compute request would; field
// errors point into the settings document.
func (s *Service) checkSettings(ctx context.Context, sh Shop, st *compute.Settings) error {
	req := computeRequest(sh)
	req.Settings, req.Items = st, []compute.Item{}
	_, err := s.compute.Compute(ctx, req, compute.Options{Tenant: shopTenant(sh.ID)})
	bad, rest := splitSettings(err)
	if bad != nil {
		return bad
	}
	return rest
}

// splitSettings parts the field errors of an InputError: those under
// /settings, moved to the root to point into a settings document, and the
// rest (nil if none). An error that is not an InputError is the rest.
func splitSettings(err error) (settings *compute.InputError, rest error) {
	var in *compute.InputError
	if !errors.As(err, &in) {
		return nil, err
	}
	var st, other []compute.FieldError
	for _, fe := range in.Errors {
		if fe.Field == "/settings" || strings.HasPrefix(fe.Field, "/settings/") {
			fe.Field = strings.TrimPrefix(fe.Field, "/settings")
			st = append(st, fe)
		} else {
			other = append(other, fe)
		}
	}
	if len(st) > 0 {
		settings = &compute.InputError{Kind: in.Kind, Errors: st}
	}
	if len(other) > 0 {
		rest = &compute.InputError{Kind: in.Kind, Errors: other}
	}
	return settings, rest
}

// storedBroken turns input errors about the stored settings, which the
// caller did not send, into a BrokenSettings error that says so. They
// happen when something the settings name has gone, such as a plugin
// version removed from the config.
func storedBroken(err error) error {
	if st, _ := splitSettings(err); st != nil && st.Kind == compute.Invalid {
		return &Error{Code: BrokenSettings, Fields: st.Errors, Err: err,
			Message: "The shop's stored settings do not validate against the shop (or name a plugin version that has gone); change them with PUT .../settings."}
	}
	return err
}

// unsettled says whether the shop has nothing to compute with: no settings
// stored, whose defaults map every location to the default warehouse,
// and no default warehouse.
func unsettled(sh Shop, stored bool) bool {
	if stored {
		return false
	}
	for _, w := range sh.Warehouses {
		if w.Default {
			return false
		}
	}
	return true
}

// noSettings is the error of computing for an unsettled shop.
func noSettings(id string) error {
	return &Error{Code: NoSettings, Message: fmt.Sprintf("Shop %q has no settings, and none of its warehouses is the default: "+
		"nothing says where its stock goes. Save settings with mappings (PUT /v1/shops/%[1]s/settings; POST .../preview tries them first), "+
		"or mark a warehouse \"default\" (PUT /v1/shops/%[1]s).", id)}
}

// Settings returns a shop's current settings.
func (s *Service) Settings(ctx context.Context, p auth.Principal, id string) (SettingsVersion, error) {
	if err := CheckShop(p, id); err != nil {
		return SettingsVersion{}, err
	}
	st, err := s.store.Settings(ctx, id)
	if err != nil {
		return SettingsVersion{}, storeError(id, err)
	}
	return versionOf(st)
}

// PutSettings makes st the shop's settings, as a new version, after
// checking them against the shop as a compute request would. With ifMatch
// the write happens only if the current version is still *ifMatch (0: none
// yet); else it is a Precondition error.
func (s *Service) PutSettings(ctx context.Context, p auth.Principal, id string, st *compute.Settings, ifMatch *int64) (SettingsVersion, error) {
	if err := CheckShop(p, id); err != nil {
		return SettingsVersion{}, err
	}
	doc, err := EncodeSettings(st)
	if err != nil {
		return SettingsVersion{}, err
	}
	// connected is the shop as the write saw it: only a connected shop
	// has quantities to publish again.
	var connected bool
	w := SettingsWrite{Doc: doc, Token: p.TokenID, Refs: make([]PluginRef, len(st.Rules)),
		Check: func(sh Shop) error { connected = sh.Connected; return s.checkSettings(ctx, sh, st) }}
	for i, r := range st.Rules {
		w.Refs[i] = PluginRef{Name: r.Plugin, Version: r.Version}
		if s.plugins != nil && !s.plugins.Configured(r.Plugin, r.Version) {
			w.Require = append(w.Require, w.Refs[i])
		}
	}
	if ifMatch != nil {
		w.IfMatch, w.IfVersion = true, *ifMatch
	}
	saved, err := s.store.PutSettings(ctx, id, w)
	if errors.Is(err, ErrPluginGone) {
		var fields []compute.FieldError
		for i, r := range st.Rules {
			if _, err := s.plugins.Get(ctx, r.Plugin, r.Version); err != nil {
				fields = append(fields, compute.FieldError{Field: fmt.Sprintf("/rules/%d/version", i), Detail: err.Error()})
			}
		}
		if len(fields) == 0 {
			fields = []compute.FieldError{{Field: "/rules", Detail: "a plugin version these settings name was deleted while they were checked"}}
		}
		return SettingsVersion{}, &compute.InputError{Kind: compute.Invalid, Errors: fields}
	}
	if errors.Is(err, ErrVersionMismatch) {
		return SettingsVersion{}, &Error{Code: Precondition, Err: err,
			Message: fmt.Sprintf("The settings changed since version %d: GET them again, and send their new ETag in If-Match.", w.IfVersion)}
	}
	if err != nil {
		return SettingsVersion{}, storeError(id, err)
	}
	s.logChange("settings changed", p, "shop", id, "version", saved.Version)
	if connected {
		// Every quantity may change: the sync recomputes the whole shop,
		// as a run that shows its progress unless another runs.
		if _, err := s.startRepublish(context.WithoutCancel(ctx), id, RunKindSettings, p.TokenID); err != nil && !errors.Is(err, ErrExists) {
			s.log.Warn("sync: starting the run of a settings change; its progress is not shown", "shop", id, "err", err)
		}
		s.resyncAll(context.WithoutCancel(ctx), id, settingsCause(saved.Version))
	}
	return versionOf(saved)
}

// SettingsHistory returns a shop's settings versions newest first: at
// most limit (see MaxHistoryPageSize), older than before if before > 0,
// and whether older ones follow.
func (s *Service) SettingsHistory(ctx context.Context, p auth.Principal, id string, before int64, limit int) ([]SettingsVersion, bool, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, false, err
	}
	limit = pageSize(limit, DefaultHistoryPageSize, MaxHistoryPageSize)
	list, err := s.store.SettingsHistory(ctx, id, before, limit+1)
	if err != nil {
		return nil, false, storeError(id, err)
	}
	list, more := cut(list, limit)
	out := make([]SettingsVersion, len(list))
	for i, st := range list {
		if out[i], err = versionOf(st); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

// state reads the shop and its current settings as of one instant;
// stored is false when the shop has none yet and they are the defaults.
func (s *Service) state(ctx context.Context, id string) (sh Shop, settings *compute.Settings, stored bool, err error) {
	sh, st, err := s.store.ShopSettings(ctx, id)
	if err != nil {
		return Shop{}, nil, false, storeError(id, err)
	}
	settings, err = DecodeSettings(st.Doc)
	if err != nil {
		return Shop{}, nil, false, err
	}
	return sh, settings, st.Version > 0, nil
}

// ComputeItems computes items with the shop's locations, warehouses and
// current settings.
func (s *Service) ComputeItems(ctx context.Context, p auth.Principal, id string, items []compute.Item, opt compute.Options) (*compute.Response, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, err
	}
	sh, settings, stored, err := s.state(ctx, id)
	if err != nil {
		return nil, err
	}
	if unsettled(sh, stored) {
		return nil, noSettings(id)
	}
	req := computeRequest(sh)
	req.Settings, req.Items = settings, items
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	opt.Tenant = shopTenant(id)
	resp, err := s.compute.Compute(ctx, req, opt)
	if err != nil {
		return nil, storedBroken(err)
	}
	return resp, nil
}
