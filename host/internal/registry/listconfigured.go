package registry

import "context"

// ListConfigured returns the versions config.toml lists, by name and then
// by semantic version, without reading the store: a caller paging through
// the stored versions merges these in.
func (r *Registry) ListConfigured(ctx context.Context) ([]Info, error) {
	out, err := r.configured(ctx)
	if err != nil {
		return nil, err
	}
	sortInfos(out)
	return out, nil
}
