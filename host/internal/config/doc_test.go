package config

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the table of docs/configuration.md from the code")

const (
	docPath    = "../../../docs/configuration.md" // from this package's folder
	tableBegin = "<!-- The table is generated: go test ./host/internal/config -run TestConfigTable -update -->"
	tableEnd   = "<!-- End of the generated table. -->"
)

// docs/configuration.md lists every key with its default and variable, and
// every other variable, as the code has them. The meanings are the
// document's own: -update keeps them, and takes a new key's from the comment
// of its line in config.toml.
func TestConfigTable(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s has no generated table: it needs the lines\n%s\n%s", docPath, tableBegin, tableEnd)
	}
	start += len(tableBegin)
	current := doc[start:end]
	meanings := tableMeanings(current)
	comments := configComments(t)
	cfg := reflect.ValueOf(Default())

	var rows strings.Builder
	rows.WriteString("\n| Key | Default | Environment variable | Meaning |\n| --- | --- | --- | --- |\n")
	var unexplained []string
	row := func(key, def string, names []string) {
		meaning := meanings[names[0]]
		if meaning == "" {
			meaning = comments[key]
		}
		if meaning == "" {
			unexplained = append(unexplained, names[0])
		}
		vars := "`" + strings.Join(names, "` or `") + "`"
		fmt.Fprintf(&rows, "| %s | %s | %s | %s |\n", key, def, vars, meaning)
	}
	for _, v := range envVars() {
		names := []string{v.Name}
		if v.Alias != "" {
			names = append(names, v.Alias)
		}
		row("`"+v.Key+"`", "`"+formatDefault(cfg.FieldByIndex(v.index))+"`", names)
	}
	for _, name := range otherEnv {
		row("—", "—", []string{name})
	}
	want := rows.String()

	if *update {
		if err := os.WriteFile(docPath, []byte(doc[:start]+want+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if current != want {
		t.Errorf("the table in %s is not the code's: run\n\tgo test ./host/internal/config -run TestConfigTable -update\nand review it. The table should be:\n%s", docPath, want)
	}
	for _, name := range unexplained {
		t.Errorf("%s: write its meaning in the table of %s", name, docPath)
	}
}

// tableMeanings returns the last column of each row, by its first variable.
func tableMeanings(table string) map[string]string {
	first := regexp.MustCompile("`(SYNCRULES_[A-Z0-9_]+)`")
	meanings := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 4 {
			continue
		}
		if m := first.FindStringSubmatch(cells[2]); m != nil {
			meanings[m[1]] = strings.Join(cells[3:], " | ")
		}
	}
	return meanings
}

// configComments returns the comment of each key's line in config.toml, by
// key (section.key).
func configComments(t *testing.T) map[string]string {
	f, err := os.Open(filepath.Join("..", "..", "..", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section := ""
	comments := map[string]string{}
	keyLine := regexp.MustCompile(`^([a-z_]+)\s*=[^#]*#\s*(.*)$`)
	for s := bufio.NewScanner(f); s.Scan(); {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(strings.TrimSpace(strings.Split(line, "#")[0]), "[]")
		} else if m := keyLine.FindStringSubmatch(line); m != nil {
			comments["`"+section+"."+m[1]+"`"] = m[2]
		}
	}
	return comments
}

// formatDefault writes a value as config.toml does.
func formatDefault(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return strconv.Quote(formatDuration(x.Duration))
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration writes "2m" rather than "2m0s", and "10us" rather than
// "10µs", which is easier to type.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return strings.Replace(s, "µs", "us", 1)
}
