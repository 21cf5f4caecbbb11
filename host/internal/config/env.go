package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// EnvPrefix begins the name of every environment variable the service
// reads. A key's variable is EnvPrefix, its section and its name, upper
// case: [server] listen is SYNCRULES_SERVER_LISTEN.
const EnvPrefix = "SYNCRULES_"

// envAliases are older names that set a key too; they keep working.
var envAliases = map[string]string{"store.dsn": DSNEnv}

// otherEnv are the variables the service reads that set no key; the
// documentation lists them with the keys' variables.
var otherEnv = []string{
	"SYNCRULES_SECRET_KEY",  // host/internal/secret: the credentials key
	"SYNCRULES_ADMIN_TOKEN", // host/internal/cli: an admin token
}

// internalEnv are variables the service sets for its own child processes,
// or that tests read; users do not set them.
var internalEnv = []string{
	"SYNCRULES_ENGINE_WORKER",  // host/engine: marks a plugin worker process
	"SYNCRULES_ENGINE_COMPILE", // host/engine: marks a compiling child process
	"SYNCRULES_TEST_POSTGRES",  // storetest: runs store tests on PostgreSQL
	"SYNCRULES_TEST_SLOWDOWN",  // slowtest: stretches test deadlines
}

// envVar is the environment variable of one key.
type envVar struct {
	Name  string // SYNCRULES_SERVER_LISTEN
	Alias string // another name for the same key, or ""
	Key   string // server.listen
	index []int  // of the field in Config
}

// envVars returns a variable for every key of every section, derived from
// the toml tags so that a new key is settable with no more code. Arrays of
// tables ([[plugins]]) have none: a list does not fit in one variable.
var envVars = sync.OnceValue(func() []envVar {
	var vars []envVar
	root := reflect.TypeFor[Config]()
	for i := range root.NumField() {
		section := root.Field(i)
		if section.Type.Kind() != reflect.Struct {
			continue
		}
		for j := range section.Type.NumField() {
			key := tomlName(section) + "." + tomlName(section.Type.Field(j))
			vars = append(vars, envVar{
				Name:  EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
				Alias: envAliases[key],
				Key:   key,
				index: []int{i, j},
			})
		}
	}
	return vars
})

// tomlName is the key a field is read from.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// applyEnv sets the keys whose variables env holds over cfg, and returns
// the names of the variables that did. An empty variable sets nothing, as
// if it were unset. Errors name the variable and what it takes; they never
// show a string's value, which may be a secret.
func applyEnv(cfg *Config, env map[string]string) (set []string, err error) {
	root := reflect.ValueOf(cfg).Elem()
	for _, v := range envVars() {
		name, value := v.Name, env[v.Name]
		if alias := env[v.Alias]; v.Alias != "" && alias != "" {
			if value != "" && value != alias {
				return set, fmt.Errorf("%s and %s both set %s, differently: unset one", v.Name, v.Alias, v.Key)
			}
			name, value = v.Alias, alias
		}
		if value == "" {
			continue
		}
		field := root.FieldByIndex(v.index)
		if err := setField(field, value); err != nil {
			return set, fmt.Errorf("%s: %q is not %s (%s)", name, value, expects(field.Type()), v.Key)
		}
		set = append(set, name)
	}
	return set, nil
}

// setField parses text as the file's parser reads the key's value, so that
// a value means the same in the file and in the environment. Strings are
// taken as they are, without TOML's quotes.
func setField(field reflect.Value, text string) error {
	switch p := field.Addr().Interface().(type) {
	case *string:
		*p = text
		return nil
	case encoding.TextUnmarshaler: // Duration
		return p.UnmarshalText([]byte(text))
	}
	// The value alone: no comment, no second key.
	if strings.ContainsAny(text, "#\r\n") {
		return errors.New("not a single value")
	}
	probe := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: field.Type(), Tag: `toml:"v"`}}))
	md, err := toml.Decode("v = "+text, probe.Interface())
	if err != nil {
		return err
	}
	if len(md.Undecoded()) > 0 {
		return errors.New("not a single value")
	}
	field.Set(probe.Elem().Field(0))
	return nil
}

// expects says what a variable of type t takes, for errors.
func expects(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return `a duration such as "15s" or "100ms"`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String() + " as TOML writes it"
}

// unknownEnv warns about SYNCRULES_ variables that set nothing, with the
// nearest name that does: a misspelt name would otherwise leave a value in
// place silently. Warnings name variables, never values.
func unknownEnv(env map[string]string) []string {
	var known []string
	for _, v := range envVars() {
		known = append(known, v.Name)
		if v.Alias != "" {
			known = append(known, v.Alias)
		}
	}
	known = append(known, otherEnv...)
	var warnings []string
	for name := range env {
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(known, name) || slices.Contains(internalEnv, name) {
			continue
		}
		w := name + " is set but is no setting of syncrules"
		if near, ok := nearest(strings.TrimPrefix(name, EnvPrefix), trimAll(known, EnvPrefix)); ok {
			w += fmt.Sprintf("; did you mean %s%s?", EnvPrefix, near)
		}
		warnings = append(warnings, w)
	}
	slices.Sort(warnings)
	return warnings
}

func trimAll(names []string, prefix string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimPrefix(n, prefix)
	}
	return out
}

// environMap turns os.Environ's list into a map.
func environMap(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
