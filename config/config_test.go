package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"gopkg.in/yaml.v3"
)

const example = "../callrecd.example.yaml"

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "callrecd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExampleLoadsAndDocumentsEveryKey(t *testing.T) {
	cfg, err := Load(example, []string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PBX.Type != "asterisk" || len(cfg.Tenants) != 1 || cfg.Exports.Schedules[0].Cron != "22 1 * * 1" {
		t.Fatalf("example loaded as %+v", cfg)
	}
	// Every key Config has must appear in the example, so the example is
	// the complete reference it claims to be.
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	flattenYAML(doc, "", present)
	known := map[string]bool{}
	collectKeys(reflect.TypeOf(Config{}), "", known)
	for key := range known {
		key = strings.TrimSuffix(key, ".*")
		if !present[key] {
			t.Errorf("key %s is not documented in %s", key, example)
		}
	}
	for _, key := range []string{"tenants.uuid", "tenants.contexts", "tenants.default", "exports.schedules.period"} {
		if !present[key] {
			t.Errorf("list entry key %s is not documented", key)
		}
	}
}

func flattenYAML(v any, prefix string, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			out[prefix+k] = true
			flattenYAML(sub, prefix+k+".", out)
		}
	case []any:
		for _, sub := range v {
			flattenYAML(sub, prefix, out)
		}
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	cfg, err := Load("", []string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("no file, no env: %+v", cfg)
	}
}

func TestOverridesEnvThenFlags(t *testing.T) {
	path := writeFile(t, "http:\n  listen: 127.0.0.1:1000\ndatabase:\n  path: /file.db\n")
	env := []string{
		"CALLRECD_HTTP__LISTEN=127.0.0.1:2000",
		"CALLRECD_DATABASE__PATH=/env.db",
		"CALLRECD_PBX__ASTERISK__PASSWORD=s3cret",
		"CALLRECD_PBX__CONNECT_TIMEOUT=7s",
		"CALLRECD_TRUNKS__ENDPOINTS=carrier,carrier2",
		"OTHER_HTTP__LISTEN=ignored",
	}
	cfg, err := Load(path, env, map[string]any{"database.path": "/flag.db"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:2000" || cfg.Database.Path != "/flag.db" || cfg.PBX.Asterisk.Password != "s3cret" ||
		cfg.PBX.ConnectTimeout != 7*time.Second || !reflect.DeepEqual(cfg.Trunks.Endpoints, []string{"carrier", "carrier2"}) {
		t.Fatalf("overrides: %+v", cfg)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		key        string
	}{
		{"unknown top key", "htp:\n  listen: x\n", nil, "htp.listen"},
		{"unknown nested key", "pbx:\n  asterisk:\n    usr: a\n", nil, "pbx.asterisk.usr"},
		{"unknown key in a list entry", "tenants:\n  - uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n    name: A\n    default: true\n    contxts: [a]\n", nil, "tenants[0]"},
		{"bad free-space floor", "storage:\n  min_free: lots\n", nil, "storage.min_free"},
		{"free-space floor over 100%", "storage:\n  min_free: 120%\n", nil, "storage.min_free"},
		{"empty free-space floor", "storage:\n  min_free: ''\n", nil, "storage.min_free"},
		{"bad floor from env", "", []string{"CALLRECD_STORAGE__MIN_FREE=-1GB"}, "storage.min_free"},
		{"renamed key", "storage:\n  min_free_bytes: 1073741824\n", nil, "storage.min_free_bytes"},
		{"wrong type", "smtp:\n  port: lots\n", nil, "smtp.port"},
		{"bad duration", "pbx:\n  connect_timeout: soon\n", nil, "pbx.connect_timeout"},
		{"negative duration", "pbx:\n  request_timeout: -1s\n", nil, "pbx.request_timeout"},
		{"bad pbx type", "pbx:\n  type: 3cx\n", nil, "pbx.type"},
		{"bad ari url", "pbx:\n  asterisk:\n    url: 127.0.0.1:8088\n", nil, "pbx.asterisk.url"},
		{"bad esl address", "pbx:\n  type: freeswitch\n  freeswitch:\n    address: nowhere\n", nil, "pbx.freeswitch.address"},
		{"freeswitch without a trunk rule", "pbx:\n  type: freeswitch\n", nil, "trunks"},
		{"freeswitch heartbeat below its interval", "pbx:\n  type: freeswitch\n  freeswitch:\n    heartbeat_timeout: 5s\ntrunks:\n  profiles: [external]\n", nil, "pbx.freeswitch.heartbeat_timeout"},
		{"bad listen", "http:\n  listen: 9298\n", nil, "http.listen"},
		{"bad format", "defaults:\n  format: ogg\n", nil, "defaults.format"},
		{"bad feature code", "defaults:\n  feature_codes:\n    onlinerec: '*3a'\n", nil, "defaults.feature_codes.onlinerec"},
		{"unknown feature", "defaults:\n  feature_codes:\n    dnd: '*25'\n", nil, "defaults.feature_codes.dnd"},
		{"duplicate code", "defaults:\n  feature_codes:\n    pauserecord: '*3'\n", nil, "defaults.feature_codes."},
		{"bad tenant uuid", "tenants:\n  - uuid: acme\n    name: A\n    default: true\n", nil, "tenants[0].uuid"},
		{"tenant without rule", "tenants:\n  - uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n    name: A\n", nil, "tenants[0]"},
		{"bad cron", "tenants:\n  - uuid: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n    name: A\n    default: true\nexports:\n  schedules:\n    - name: w\n      tenant: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n      cron: every monday\n      period: previous_week\n", nil, "exports.schedules[0].cron"},
		{"schedule for unknown tenant", "exports:\n  schedules:\n    - name: w\n      tenant: 2c34c282-433e-4bb8-8d56-fec14ff7e1e9\n      cron: 22 1 * * 1\n      period: previous_week\n", nil, "exports.schedules[0].tenant"},
		{"bad smtp from", "smtp:\n  host: mail\n  from: nobody\n", nil, "smtp.from"},
		{"bad log level", "log:\n  level: loud\n", nil, "log.level"},
		{"bad env value", "", []string{"CALLRECD_HTTP__LISTEN=nowhere"}, "http.listen"},
		{"unknown env key", "", []string{"CALLRECD_HTTP__LISTN=127.0.0.1:1"}, "http.listn"},
		{"not yaml", "pbx: [unclosed\n", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == nil {
				env = []string{}
			}
			_, err := Load(writeFile(t, tc.yaml), env, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if !strings.HasPrefix(ce.Key, tc.key) || (tc.key == "" && ce.Key != "") {
				t.Fatalf("error %q names key %q, want %q", err, ce.Key, tc.key)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("message %q does not name %q", err, tc.key)
			}
		})
	}
}

func TestFreeSpaceFloor(t *testing.T) {
	cfg, err := Load("", []string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.MinFree != "1GiB" || cfg.Storage.Floor().Bytes != 1<<30 {
		t.Fatalf("default floor %q = %+v", cfg.Storage.MinFree, cfg.Storage.Floor())
	}
	for in, want := range map[string]media.Floor{"5%": {Percent: 5}, "500MB": {Bytes: 500 << 20}, "2GiB": {Bytes: 2 << 30}, "0": {}} {
		cfg, err := Load(writeFile(t, "storage:\n  min_free: "+in+"\n"), []string{}, nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if cfg.Storage.Floor() != want {
			t.Errorf("%s: floor %+v, want %+v", in, cfg.Storage.Floor(), want)
		}
	}
	_, err = Load(writeFile(t, "storage:\n  min_free_bytes: 1073741824\n"), []string{}, nil)
	if err == nil || !strings.Contains(err.Error(), "storage.min_free (") {
		t.Fatalf("old key: %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), []string{}, nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

// A CALLRECD_ variable that names no section of the file is not an
// override (a script's CALLRECD_BIN); one in a section still must be a key.
func TestEnvOnlySectionsAreOverrides(t *testing.T) {
	cfg, err := Load("", []string{"CALLRECD_BIN=/usr/local/bin/callrecd", "CALLRECD_DEBUG=1",
		"CALLRECD_NOSUCH__THING=x", "CALLRECD_=y", "CALLRECD_HTTP__LISTEN=127.0.0.1:2001"}, nil)
	if err != nil {
		t.Fatalf("non-override CALLRECD_ variables: %v", err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:2001" {
		t.Fatalf("override not applied: %q", cfg.HTTP.Listen)
	}
	_, err = Load("", []string{"CALLRECD_BIN=x", "CALLRECD_HTTP__LISTN=127.0.0.1:1"}, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "http.listn" {
		t.Fatalf("unknown key in a section: %v", err)
	}
}

func TestTrustedProxiesAndTLS(t *testing.T) {
	cfg, err := Load(writeFile(t, "http:\n  trusted_proxies: [127.0.0.1, '10.0.0.0/8', '::1']\n"), []string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nets := cfg.HTTP.TrustedProxyNets()
	if len(nets) != 3 || nets[0].String() != "127.0.0.1/32" || nets[1].String() != "10.0.0.0/8" || nets[2].String() != "::1/128" {
		t.Fatalf("trusted proxies %v", nets)
	}
	if cfg, err = Load("", []string{"CALLRECD_HTTP__TRUSTED_PROXIES=192.0.2.1,198.51.100.0/24"}, nil); err != nil ||
		len(cfg.HTTP.TrustedProxyNets()) != 2 {
		t.Fatalf("from env: %v %v", cfg.HTTP.TrustedProxies, err)
	}
	for _, tc := range []struct{ yaml, key string }{
		{"http:\n  trusted_proxies: [proxy.example.com]\n", "http.trusted_proxies[0]"},
		{"http:\n  trusted_proxies: [10.0.0.0/33]\n", "http.trusted_proxies[0]"},
		{"http:\n  tls_cert: /c.pem\n", "http.tls_cert"},
		{"http:\n  tls_key: /k.pem\n", "http.tls_cert"},
		{"http:\n  tls_cert: /nonexistent/c.pem\n  tls_key: /nonexistent/k.pem\n", "http.tls_cert"},
	} {
		_, err := Load(writeFile(t, tc.yaml), []string{}, nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%q: %v, want an error about %s", tc.yaml, err, tc.key)
		}
	}
}
