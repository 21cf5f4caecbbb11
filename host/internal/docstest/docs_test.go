// Package docstest checks that the project's documents say what the code
// does: README.md's example request and its answer, and the worked numbers
// of docs/rules.md, computed by the host's compute service with the default
// rule run natively (the code its WebAssembly module runs).
package docstest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

// root is the repository's root, from this package's directory.
const root = "../../.."

// nativeRule runs the default rule through the SDK's Runner.
type nativeRule struct {
	mu     sync.Mutex
	runner *sdk.Runner
}

func (n *nativeRule) Call(_ context.Context, input []byte, read func([]byte) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return read(n.runner.Run(input))
}

func newService(t *testing.T) *compute.Service {
	t.Helper()
	svc, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// computeJSON answers body as POST /v1/compute does: the response's JSON, or
// the input error.
func computeJSON(t *testing.T, svc *compute.Service, body string) (string, *compute.InputError) {
	t.Helper()
	req, err := compute.DecodeRequest([]byte(body))
	var resp *compute.Response
	if err == nil {
		resp, err = svc.Compute(context.Background(), req, compute.Options{})
	}
	var in *compute.InputError
	if errors.As(err, &in) {
		return "", in
	}
	if err != nil {
		t.Fatalf("compute %s: %v", body, err)
	}
	var out bytes.Buffer
	if err := compute.WriteResponse(&out, resp); err != nil {
		t.Fatal(err)
	}
	return out.String(), nil
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fencedAfter returns the body of the first fenced block of the given
// language after the first occurrence of marker in doc.
func fencedAfter(t *testing.T, doc, marker, lang string) string {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("%q not found", marker)
	}
	open := "```" + lang + "\n"
	j := strings.Index(doc[i:], open)
	if j < 0 {
		t.Fatalf("no ```%s block after %q", lang, marker)
	}
	body := doc[i+j+len(open):]
	end := strings.Index(body, "```")
	if end < 0 {
		t.Fatalf("unterminated ```%s block after %q", lang, marker)
	}
	return body[:end]
}

// compact removes the line breaks and indentation README's answers are
// wrapped with; the service writes none.
func compact(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.TrimSpace(line))
	}
	return b.String()
}

// TestReadmeExampleRequest holds README's "Try it": the body it shows is
// examples/request.json, byte for byte, the curl command sends that file,
// and the answer it shows is what the file computes to.
func TestReadmeExampleRequest(t *testing.T) {
	readme, file := read(t, "README.md"), read(t, "examples/request.json")
	if shown := fencedAfter(t, readme, "## Try it", "json"); shown != file {
		t.Errorf("README shows the body\n%s\nbut examples/request.json is\n%s", shown, file)
	}
	command := fencedAfter(t, readme, "## Try it", "sh")
	if !strings.Contains(command, "-d @examples/request.json") {
		t.Errorf("README's first compute does not send examples/request.json:\n%s", command)
	}
	want := compact(fencedAfter(t, readme, "-d @examples/request.json", "json"))
	got, in := computeJSON(t, newService(t), file)
	if in != nil {
		t.Fatalf("examples/request.json is refused: %v", in)
	}
	if got != want {
		t.Errorf("examples/request.json computes to\n%s\nREADME shows\n%s", got, want)
	}
}

// TestRulesDocNumbers computes the worked numbers of docs/rules.md. Shop of
// the examples: locations A and B, warehouses alpha (default) and beta.
func TestRulesDocNumbers(t *testing.T) {
	const (
		shop     = `"locations": [{"id": "A"}, {"id": "B"}], "warehouses": [{"id": "alpha", "default": true}, {"id": "beta"}]`
		aToBeta  = `"mappings": [{"location": "A", "warehouse": "beta"}]`
		quantity = `{"items":[{"id":"v","quantities":{"alpha":%s,"beta":%s}}],"warnings":[]}`
	)
	body := func(settings, items string) string {
		return `{"settings": {` + settings + `}, ` + shop + `, "items": [` + items + `]}`
	}
	q := func(alpha, beta string) string {
		return strings.Replace(strings.Replace(quantity, "%s", alpha, 1), "%s", beta, 1)
	}
	tests := []struct {
		section, name string
		body          string
		want          string // the answer, or
		refused       string // the detail of a 422
	}{
		{"Mapping locations to warehouses", "no mappings at 80%: both feed alpha", body(`"percentage": 80`, `{"id": "v", "available": {"A": 100, "B": 200}}`), q("240", "0"), ""},
		{"Mapping locations to warehouses", "A to beta at 80%", body(`"percentage": 80, `+aToBeta, `{"id": "v", "available": {"A": 100, "B": 200}}`), q("0", "80"), ""},
		{"Mapping locations to warehouses", "a location feeds one warehouse", body(`"mappings": [{"location": "A", "warehouse": "beta"}, {"location": "A", "warehouse": "alpha"}]`, ``), "", "a location may feed one warehouse"},
		{"Mapping locations to warehouses", "* stands alone", body(`"mappings": [{"location": "*", "warehouse": "beta"}, {"location": "B", "warehouse": "alpha"}]`, ``), "", "must be the only mapping"},
		{"Active and inactive", "inactive location and warehouse",
			`{"settings": {"mappings": [{"location": "A", "warehouse": "beta"}, {"location": "B", "warehouse": "alpha"}]},
			  "locations": [{"id": "A", "active": false}, {"id": "B"}], "warehouses": [{"id": "alpha", "active": false}, {"id": "beta", "default": true}],
			  "items": [{"id": "v", "available": {"A": 10, "B": 20}}]}`,
			`{"items":[{"id":"v","quantities":{"beta":0}}],"warnings":[` +
				`{"code":"inactive_location","message":"location \"A\" is inactive: its stock is not published to \"beta\"","field":"/settings/mappings/0"},` +
				`{"code":"inactive_warehouse","message":"warehouse \"alpha\" is inactive: nothing is published to it","field":"/settings/mappings/1"}]}`, ""},
		{"The quantity of a tracked item", "negative stock is summed", body(`"percentage": 50`, `{"id": "v", "available": {"A": -5, "B": 12}}`), q("3", "0"), ""},
		{"The quantity of a tracked item", "a negative total is 0", body(``, `{"id": "v", "available": {"A": -5, "B": 3}}`), q("0", "0"), ""},
		{"The quantity of a tracked item", "the percentage applies to the total", body(`"percentage": 50`, `{"id": "v", "available": {"A": 1, "B": 1}}`), q("1", "0"), ""},
		{"The quantity of a tracked item", "33.33% of 100", body(`"percentage": 33.33`, `{"id": "v", "available": {"A": 100}}`), q("33", "0"), ""},
		{"The quantity of a tracked item", "99.99% of 1", body(`"percentage": 99.99`, `{"id": "v", "available": {"A": 1, "B": null}}`), q("0", "0"), ""},
		{"The quantity of a tracked item", "985 at 80%", body(`"percentage": 80`, `{"id": "v", "available": {"A": 585, "B": 400}}`), q("788", "0"), ""},
		{"The quantity of a tracked item", "beyond int32", body(``, `{"id": "v", "available": {"A": 2147483648}}`), "", "must be between -2147483648 and 2147483647"},
		{"The percentage", "29% of 100 is exactly 29", body(`"percentage": 29`, `{"id": "v", "available": {"A": 100}}`), q("29", "0"), ""},
		{"The percentage", "three decimals", body(`"percentage": 33.333`, ``), "", "may have at most two decimals"},
		{"The percentage", "negative", body(`"percentage": -1`, ``), "", "must be between 0 and 100"},
		{"The percentage", "over 100", body(`"percentage": 100.5`, ``), "", "must be between 0 and 100"},
		{"The percentage", "8e1 is 80", body(`"percentage": 8e1`, `{"id": "v", "available": {"A": 985}}`), q("788", "0"), ""},
		{"The percentage", "80.0 is 80", body(`"percentage": 80.0`, `{"id": "v", "available": {"A": 985}}`), q("788", "0"), ""},
		{"The maximum", "capped at max_quantity", body(`"percentage": 50, "max_quantity": 100`, `{"id": "v", "available": {"A": 250}}`), q("100", "0"), ""},
		{"The maximum", "int32 sums capped", body(`"max_quantity": 500`, `{"id": "v", "available": {"A": 2147483647, "B": 2147483647}}`), q("500", "0"), ""},
		{"The maximum", "max_quantity above 999,999", body(`"max_quantity": 1000000`, ``), "", "must be between 1 and 999999"},
		{"Untracked and continue-selling items", "untracked and continue selling",
			body(`"percentage": 50, `+aToBeta, `{"id": "v", "tracked": false, "available": {"A": 3}}, {"id": "w", "continue_selling": true}`),
			`{"items":[{"id":"v","quantities":{"alpha":0,"beta":999999}},{"id":"w","quantities":{"alpha":0,"beta":999999}}],"warnings":[]}`, ""},
	}
	svc := newService(t)
	for _, tt := range tests {
		t.Run(tt.section+"/"+tt.name, func(t *testing.T) {
			got, in := computeJSON(t, svc, tt.body)
			switch {
			case tt.refused != "" && in == nil:
				t.Fatalf("accepted, answering %s; docs/rules.md (%q) says it is refused (%q)", got, tt.section, tt.refused)
			case tt.refused != "":
				if in.Kind != compute.Invalid || !strings.Contains(in.Error(), tt.refused) {
					t.Errorf("refused with %v; docs/rules.md (%q) says a 422 with %q", in, tt.section, tt.refused)
				}
			case in != nil:
				t.Fatalf("refused: %v; docs/rules.md (%q) says %s", in, tt.section, tt.want)
			case got != tt.want:
				t.Errorf("answer\n%s\ndocs/rules.md (%q) says\n%s", got, tt.section, tt.want)
			}
		})
	}
}

// TestReadmeRuleIsTheExample holds README's "Writing a rule" to
// examples/holdback, which its commands build: the code shown is the
// file's, after the file's own comment.
func TestReadmeRuleIsTheExample(t *testing.T) {
	shown := fencedAfter(t, read(t, "README.md"), "## Writing a rule", "go")
	if file := read(t, "examples/holdback/holdback.go"); !strings.HasSuffix(file, "\n"+shown) {
		t.Errorf("README's rule is not examples/holdback/holdback.go; README shows\n%s", shown)
	}
}

// TestRulesDocExplanation holds the explanation docs/rules.md shows for 985
// units at 80%.
func TestRulesDocExplanation(t *testing.T) {
	shown := compact(fencedAfter(t, read(t, "docs/rules.md"), "`?explain=true` shows each step", "json"))
	req, err := compute.DecodeRequest([]byte(`{"settings": {"percentage": 80},
		"locations": [{"id": "A"}, {"id": "B"}], "warehouses": [{"id": "alpha", "default": true}, {"id": "beta"}],
		"items": [{"id": "v", "available": {"A": 585, "B": 400}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newService(t).Compute(context.Background(), req, compute.Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := compute.WriteResponse(&out, resp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"alpha":`+shown) {
		t.Errorf("the explanation is\n%s\ndocs/rules.md shows for alpha\n%s", out.String(), shown)
	}
}
