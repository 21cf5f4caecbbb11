package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestNotesTruncated: a plugin that writes more notes than are kept gets
// its stage marked notes_truncated and a warning, as the document says
// (the checked client validates the answer).
func TestNotesTruncated(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "chaos", "1.0.0", "chaos")
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	ex := s.post(t, "/v1/compute?explain=true", body(`"settings":{"rules":[{"plugin":"chaos","version":"1.0.0"}]}`,
		`"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}]`,
		`"items":[{"id":"v","available":{"A":5},"tags":["notes"]},{"id":"w","available":{"A":5}}]`))
	if ex.status != http.StatusOK {
		t.Fatalf("status %d: %s", ex.status, ex.body)
	}
	var resp struct {
		Items []struct {
			Trace []struct {
				Stage          string                     `json:"stage"`
				Item           map[string]json.RawMessage `json:"item"`
				NotesTruncated bool                       `json:"notes_truncated"`
			} `json:"trace"`
		} `json:"items"`
		Warnings []warning `json:"warnings"`
	}
	if err := json.Unmarshal(ex.body, &resp); err != nil {
		t.Fatal(err)
	}
	if st := resp.Items[0].Trace[1]; st.Stage != "chaos@1.0.0" || !st.NotesTruncated || len(st.Item) != 16 {
		t.Errorf("v's chaos stage: %d notes, truncated %v; want 16, true", len(st.Item), st.NotesTruncated)
	}
	if st := resp.Items[1].Trace[1]; st.NotesTruncated {
		t.Errorf("w's chaos stage is marked truncated")
	}
	if len(resp.Warnings) != 1 || resp.Warnings[0].Code != "notes_truncated" || resp.Warnings[0].Field != "/settings/rules/0" {
		t.Errorf("warnings %+v, want one notes_truncated", resp.Warnings)
	}
}
