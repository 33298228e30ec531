// Reading the configuration: the file, CALLRECD_* overrides, flags, and
// the errors that name the key.

package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

// Error is a configuration problem about one key.
type Error struct {
	Key     string
	Problem string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "config: " + e.Problem
	}
	return "config: " + e.Key + ": " + e.Problem
}

// EnvPrefix starts every environment override. Nesting uses a double
// underscore: CALLRECD_PBX__ASTERISK__PASSWORD sets pbx.asterisk.password.
// Only a variable whose first part names a section of the file
// (CALLRECD_<SECTION>__…, e.g. CALLRECD_HTTP__LISTEN) is an override; any
// other CALLRECD_ variable (a script's CALLRECD_BIN) is not callrecd's and
// is left alone. Within a section an unknown key is an error, as in the file.
const EnvPrefix = "CALLRECD_"

// envSection reports whether an environment variable (prefix stripped,
// lower-cased) is an override: its first part is a top-level key.
func envSection(key string) bool {
	section, _, nested := strings.Cut(key, "__")
	if !nested {
		return false
	}
	for f := range reflect.TypeOf(Config{}).Fields() {
		if f.Tag.Get("koanf") == section {
			return true
		}
	}
	return false
}

// Load reads the YAML file at path (none when path is empty), applies
// environment overrides from environ (os.Environ when nil) and then
// overrides (key → value, from flags), and validates the result.
func Load(path string, environ []string, overrides map[string]any) (Config, error) {
	k := koanf.New(".")
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, &Error{Problem: err.Error()}
		}
		if err := k.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
			return Config{}, &Error{Problem: fmt.Sprintf("%s is not valid YAML: %v", path, err)}
		}
	}
	if environ == nil {
		environ = os.Environ()
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		TransformFunc: func(key, value string) (string, any) {
			key = strings.ToLower(strings.TrimPrefix(key, EnvPrefix))
			if !envSection(key) {
				return "", nil // not an override: koanf skips it
			}
			return strings.ReplaceAll(key, "__", "."), value
		},
		EnvironFunc: func() []string { return environ },
	}), nil); err != nil {
		return Config{}, &Error{Problem: err.Error()}
	}
	for key, v := range overrides {
		if err := k.Set(key, v); err != nil {
			return Config{}, &Error{Key: key, Problem: err.Error()}
		}
	}
	if err := checkKeys(k); err != nil {
		return Config{}, err
	}
	cfg := Default()
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:          "koanf",
		Result:           &cfg,
		WeaklyTypedInput: true, // environment values are strings
		ErrorUnused:      true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return Config{}, &Error{Problem: err.Error()}
	}
	if err := dec.Decode(k.Raw()); err != nil {
		return Config{}, decodeError(err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkKeys refuses keys the Config does not have, naming the first one, so
// a typo never silently falls back to a default.
func checkKeys(k *koanf.Koanf) error {
	known := map[string]bool{}
	collectKeys(reflect.TypeOf(Config{}), "", known)
	var unknown []string
	for _, key := range k.Keys() {
		if !known[key] && !underMap(key, known) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if now, ok := renamedKeys[unknown[0]]; ok {
		return &Error{Key: unknown[0], Problem: "was replaced by " + now}
	}
	return &Error{Key: unknown[0], Problem: "unknown key (see callrecd.example.yaml for the keys there are)"}
}

// renamedKeys maps keys older releases knew to what replaced them, so an
// old file gets a precise message.
var renamedKeys = map[string]string{
	"storage.min_free_bytes": `storage.min_free (a size such as "1GiB", or "5%")`,
}

// collectKeys lists the dotted keys of struct fields; a map field is marked
// with a trailing ".*" since any key below it is fine.
func collectKeys(t reflect.Type, prefix string, out map[string]bool) {
	for f := range t.Fields() {
		name := f.Tag.Get("koanf")
		if name == "" {
			continue
		}
		key := prefix + name
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			collectKeys(f.Type, key+".", out)
		case f.Type.Kind() == reflect.Map:
			out[key+".*"] = true
		default:
			out[key] = true
		}
	}
}

func underMap(key string, known map[string]bool) bool {
	for i := strings.LastIndex(key, "."); i > 0; i = strings.LastIndex(key[:i], ".") {
		if known[key[:i]+".*"] {
			return true
		}
	}
	return false
}

var decodeKey = regexp.MustCompile(`'([^']*)'`)

// decodeError turns mapstructure's message into one naming the key.
func decodeError(err error) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return &Error{Key: de.Name(), Problem: de.Unwrap().Error()}
	}
	msg := err.Error()
	if m := decodeKey.FindStringSubmatch(msg); m != nil {
		problem := strings.TrimSpace(strings.TrimPrefix(msg[strings.Index(msg, m[0])+len(m[0]):], ":"))
		if i := strings.Index(problem, "\n"); i > 0 {
			problem = problem[:i]
		}
		return &Error{Key: m[1], Problem: problem}
	}
	return &Error{Problem: msg}
}
