package compute

import (
	"context"
	"testing"
)

// TestComputeReportsModules: a response names every module that ran, the
// default rule first, each plugin version with the sha256 of its bytes,
// so that the sync's history can say what computed a quantity.
func TestComputeReportsModules(t *testing.T) {
	svc := chainService(t, 0, 0)
	req := chaosRequest(2, nil, "")
	req.Settings.Rules = append(req.Settings.Rules, Rule{Plugin: "buffer", Version: "1.0.0", Params: []byte(`{"units": 1}`)})
	resp, err := svc.Compute(context.Background(), req, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := svc.plugins.(pluginSet)
	want := []ModuleRun{{Name: DefaultRuleName}} // the native default rule cannot tell its sha256
	for _, r := range req.Settings.Rules {
		want = append(want, ModuleRun{Name: r.Plugin, Version: r.Version, SHA256: ps[r.Plugin+"@"+r.Version].SHA256()})
	}
	if len(resp.Modules) != len(want) {
		t.Fatalf("modules %+v, want %+v", resp.Modules, want)
	}
	for i := range want {
		if resp.Modules[i] != want[i] || (i > 0 && len(resp.Modules[i].SHA256) != 64) {
			t.Errorf("module %d = %+v, want %+v", i, resp.Modules[i], want[i])
		}
	}
}
