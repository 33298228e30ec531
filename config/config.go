// Package config loads callrecd's configuration: one YAML file, then
// CALLRECD_* environment overrides, then command-line flags, validated before
// anything starts. Every problem names the key it is about.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/go-viper/mapstructure/v2"
	"github.com/google/uuid"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/robfig/cron/v3"
)

// Config is the whole configuration. The koanf tags are the YAML keys.
type Config struct {
	PBX      PBX      `koanf:"pbx"`
	Storage  Storage  `koanf:"storage"`
	Database Database `koanf:"database"`
	HTTP     HTTP     `koanf:"http"`
	Log      Log      `koanf:"log"`
	Defaults Defaults `koanf:"defaults"`
	Tenants  []Tenant `koanf:"tenants"`
	Trunks   Trunks   `koanf:"trunks"`
	SMTP     SMTP     `koanf:"smtp"`
	Exports  Exports  `koanf:"exports"`
}

// PBX says which PBX callrecd watches and how to reach it.
type PBX struct {
	Type       string     `koanf:"type"` // asterisk | freeswitch
	Asterisk   Asterisk   `koanf:"asterisk"`
	FreeSWITCH FreeSWITCH `koanf:"freeswitch"`
	// ConnectTimeout bounds one connection attempt; reconnects back off up
	// to ReconnectMaxBackoff and never give up.
	ConnectTimeout      time.Duration `koanf:"connect_timeout"`
	ReconnectMaxBackoff time.Duration `koanf:"reconnect_max_backoff"`
	// RequestTimeout bounds each command sent to the PBX.
	RequestTimeout time.Duration `koanf:"request_timeout"`
}

// Asterisk is the ARI connection.
type Asterisk struct {
	URL      string `koanf:"url"` // e.g. http://127.0.0.1:8088/ari
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	App      string `koanf:"app"`
	// RecordingSpool is where Asterisk writes ARI recordings, as callrecd
	// sees the folder (it moves finished files out of it).
	RecordingSpool string `koanf:"recording_spool"`
}

// FreeSWITCH is the ESL connection.
type FreeSWITCH struct {
	Address  string `koanf:"address"` // host:port of mod_event_socket
	Password string `koanf:"password"`
	// RecordingDir is where FreeSWITCH writes uuid_record files, as
	// callrecd sees the folder (it moves finished files out of it).
	RecordingDir string `koanf:"recording_dir"`
	// RecordingDirOnPBX is the same folder as FreeSWITCH sees it, when it
	// differs (a shared mount); empty: RecordingDir.
	RecordingDirOnPBX string `koanf:"recording_dir_on_pbx"`
	// IgnoreProfiles are sofia profiles whose channels are not the PBX's
	// legs (e.g. a test rig's simulated phones).
	IgnoreProfiles []string `koanf:"ignore_profiles"`
	// HeartbeatTimeout: no event (FreeSWITCH sends HEARTBEAT every 20 s)
	// for this long means the link is dead and is redialled.
	HeartbeatTimeout time.Duration `koanf:"heartbeat_timeout"`
}

// Storage is where recordings live.
type Storage struct {
	// Root holds tenants/<tenant_uuid>/monitor/<file>, as Wazo lays it out.
	Root string `koanf:"root"`
	// MinFree: below this much free space new recordings are refused
	// (running ones continue) and an alert is raised. Bytes with an optional
	// unit ("1GiB", "500MB", powers of 1024) or a share of the disk ("5%"),
	// as media.ParseFloor reads it.
	MinFree string `koanf:"min_free"`
}

// Floor is MinFree parsed (Validate has checked it), for media.Guard:
//
//	media.Guard{Root: cfg.Storage.Root, Floor: cfg.Storage.Floor()}
func (s Storage) Floor() media.Floor {
	f, _ := media.ParseFloor(s.MinFree)
	return f
}

// Database is the SQLite index.
type Database struct {
	Path string `koanf:"path"`
	// AutoMigrate lets `serve` apply pending migrations at start.
	AutoMigrate bool `koanf:"auto_migrate"`
}

// HTTP is the API and web page listener.
type HTTP struct {
	Listen string `koanf:"listen"`
	// PublicURL is how users reach callrecd, for links in export e-mails.
	PublicURL string `koanf:"public_url"`
	// TrustedProxies are the reverse proxies (IP addresses or CIDR ranges)
	// whose X-Forwarded-For / X-Real-IP name the client in the audit log;
	// from any other peer those headers are ignored.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// TLSCert and TLSKey (PEM files, both or neither) make http.listen
	// serve HTTPS, as Wazo's clients expect (https://<server>/api).
	TLSCert string `koanf:"tls_cert"`
	TLSKey  string `koanf:"tls_key"`
}

// TrustedProxyNets is TrustedProxies parsed (Validate has checked it); a
// bare address is a one-address range.
func (h HTTP) TrustedProxyNets() []*net.IPNet {
	var out []*net.IPNet
	for _, p := range h.TrustedProxies {
		if n, err := parseProxy(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func parseProxy(p string) (*net.IPNet, error) {
	p = strings.TrimSpace(p)
	if ip := net.ParseIP(p); ip != nil {
		bits := 128
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(p)
	return n, err
}

// Log configures the daemon's log.
type Log struct {
	Level  string `koanf:"level"`  // debug | info | warn | error
	Format string `koanf:"format"` // text | json
}

// Defaults apply to tenants created from this file.
type Defaults struct {
	Format       string            `koanf:"format"`        // a recording.Format: wav | mp3 | amr
	FeatureCodes map[string]string `koanf:"feature_codes"` // recording.Feature name → code
	DTMFTimeout  time.Duration     `koanf:"dtmf_timeout"`
}

// Tenant maps PBX channels to a tenant. A channel belongs to the first
// tenant whose rule matches it.
type Tenant struct {
	UUID string `koanf:"uuid"`
	Name string `koanf:"name"`
	// Asterisk: the channel's dialplan context, or a prefix of its PJSIP
	// endpoint name.
	Contexts         []string `koanf:"contexts"`
	EndpointPrefixes []string `koanf:"endpoint_prefixes"`
	// FreeSWITCH: the channel's domain.
	Domains []string `koanf:"domains"`
	// Default makes this the tenant of channels no rule matches.
	Default bool `koanf:"default"`
}

// Trunks says which endpoints are external (carriers); every other endpoint
// is a user's phone.
type Trunks struct {
	Endpoints        []string `koanf:"endpoints"`
	EndpointPrefixes []string `koanf:"endpoint_prefixes"`
	// FreeSWITCH gateways (sofia/gateway/<name>).
	Gateways []string `koanf:"gateways"`
	// FreeSWITCH sofia profiles that face carriers (vanilla "external").
	Profiles []string `koanf:"profiles"`
	// OutsideCall: a FreeSWITCH leg with outside_call=true (vanilla's
	// public context sets it) is external too.
	OutsideCall bool `koanf:"outside_call"`
}

// SMTP sends export notifications.
type SMTP struct {
	Host     string `koanf:"host"` // empty: no e-mail
	Port     int    `koanf:"port"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	From     string `koanf:"from"`
	TLS      string `koanf:"tls"` // starttls | tls | none
}

// Exports configures bulk exports.
type Exports struct {
	Dir string `koanf:"dir"`
	// Keep is how long a finished export stays downloadable (Wazo: 2
	// days); a tenant's retention export_days overrides it.
	Keep time.Duration `koanf:"keep"`
	// Workers bounds exports built at once; MaxPerTenant per tenant.
	Workers      int `koanf:"workers"`
	MaxPerTenant int `koanf:"max_per_tenant"`
	// Webhook, if set, receives a JSON POST at the end of every export.
	Webhook   string     `koanf:"webhook"`
	Schedules []Schedule `koanf:"schedules"`
}

// Schedule is a cron-driven export (e.g. every Monday 01:22 for the
// previous week, as the Wazo guide sets up by hand).
type Schedule struct {
	Name   string `koanf:"name"`
	Tenant string `koanf:"tenant"`
	Cron   string `koanf:"cron"`
	Period string `koanf:"period"` // the window: previous_day | previous_week | previous_month
	Email  string `koanf:"email"`
	// Filters narrow the window's calls, as the export API's query does.
	Filters   ScheduleFilters `koanf:"filters"`
	Webhook   string          `koanf:"webhook"`   // POSTed to when a run ends
	Directory string          `koanf:"directory"` // a copy of each run's zip goes here
	Disabled  bool            `koanf:"disabled"`
}

// ScheduleFilters are a schedule's /cdr-style filters.
type ScheduleFilters struct {
	CallDirection string   `koanf:"call_direction"`
	Search        string   `koanf:"search"`
	Number        string   `koanf:"number"`
	Tags          []string `koanf:"tags"`
	UserUUIDs     []string `koanf:"user_uuid"`
}

// Default returns the configuration used when a key is not set.
func Default() Config {
	return Config{
		PBX: PBX{
			Type: "asterisk",
			Asterisk: Asterisk{URL: "http://127.0.0.1:8088/ari", Username: "callrecd", App: "callrecd",
				RecordingSpool: "/var/spool/asterisk/recording"},
			FreeSWITCH:          FreeSWITCH{Address: "127.0.0.1:8021", Password: "ClueCon", RecordingDir: "/var/lib/freeswitch/recordings", HeartbeatTimeout: 65 * time.Second},
			ConnectTimeout:      5 * time.Second,
			ReconnectMaxBackoff: 30 * time.Second,
			RequestTimeout:      5 * time.Second,
		},
		Storage:  Storage{Root: "/var/lib/callrecd/recordings", MinFree: "1GiB"},
		Database: Database{Path: "/var/lib/callrecd/callrecd.db", AutoMigrate: true},
		HTTP:     HTTP{Listen: "127.0.0.1:9298"},
		Log:      Log{Level: "info", Format: "text"},
		Defaults: Defaults{
			Format:       string(recording.WAV),
			DTMFTimeout:  3 * time.Second,
			FeatureCodes: defaultFeatureCodes(),
		},
		SMTP:    SMTP{Port: 587, TLS: "starttls"},
		Exports: Exports{Dir: "/var/lib/callrecd/exports", Keep: 48 * time.Hour, Workers: 2, MaxPerTenant: 1},
	}
}

// defaultFeatureCodes maps every feature to its default code.
func defaultFeatureCodes() map[string]string {
	codes := map[string]string{}
	for _, f := range recording.Features() {
		codes[string(f)] = recording.DefaultCode(f)
	}
	return codes
}

// names spells a vocabulary's values.
func names[T ~string](vs []T) []string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return s
}

// oneOf spells a vocabulary for a message: "wav, mp3 or amr".
func oneOf[T ~string](vs []T) string {
	s := names(vs)
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

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

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Validate checks every value and names the first bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &Error{Key: key, Problem: fmt.Sprintf(format, a...)})
	}

	switch c.PBX.Type {
	case "asterisk":
		if u, err := url.Parse(c.PBX.Asterisk.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("pbx.asterisk.url", "must be an http(s) URL such as http://127.0.0.1:8088/ari, got %q", c.PBX.Asterisk.URL)
		}
		if c.PBX.Asterisk.Username == "" {
			bad("pbx.asterisk.username", "is required")
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`).MatchString(c.PBX.Asterisk.App) {
			bad("pbx.asterisk.app", "must be 1-64 letters, digits, '_', '.' or '-', got %q", c.PBX.Asterisk.App)
		}
	case "freeswitch":
		if _, _, err := net.SplitHostPort(c.PBX.FreeSWITCH.Address); err != nil {
			bad("pbx.freeswitch.address", "must be host:port, got %q", c.PBX.FreeSWITCH.Address)
		}
		if c.PBX.FreeSWITCH.RecordingDir == "" {
			bad("pbx.freeswitch.recording_dir", "is required: the folder FreeSWITCH records into, as callrecd sees it")
		}
		if c.PBX.FreeSWITCH.HeartbeatTimeout != 0 && c.PBX.FreeSWITCH.HeartbeatTimeout < 21*time.Second {
			bad("pbx.freeswitch.heartbeat_timeout", "must be more than FreeSWITCH's 20 s heartbeat interval, got %s", c.PBX.FreeSWITCH.HeartbeatTimeout)
		}
		// Without a trunk rule every leg is a phone: the external-to-external
		// rule could never fire.
		if len(c.Trunks.Profiles)+len(c.Trunks.Gateways) == 0 && !c.Trunks.OutsideCall {
			bad("trunks", "on FreeSWITCH, name the carrier-facing sofia profiles (trunks.profiles), gateways (trunks.gateways) or set trunks.outside_call: true")
		}
	default:
		bad("pbx.type", "must be asterisk or freeswitch, got %q", c.PBX.Type)
	}
	for key, d := range map[string]time.Duration{"pbx.connect_timeout": c.PBX.ConnectTimeout,
		"pbx.reconnect_max_backoff": c.PBX.ReconnectMaxBackoff, "pbx.request_timeout": c.PBX.RequestTimeout} {
		if d <= 0 {
			bad(key, "must be a positive duration such as 5s, got %s", d)
		}
	}
	if c.Storage.Root == "" {
		bad("storage.root", "is required")
	}
	if _, err := media.ParseFloor(c.Storage.MinFree); err != nil {
		bad("storage.min_free", "must be a size such as 1GiB or 500MB, or a share of the disk such as 5%%, got %q", c.Storage.MinFree)
	}
	if c.Database.Path == "" {
		bad("database.path", "is required")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "must be host:port such as 127.0.0.1:9298, got %q", c.HTTP.Listen)
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			bad("http.public_url", "must be an absolute URL, got %q", c.HTTP.PublicURL)
		}
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			bad(fmt.Sprintf("http.trusted_proxies[%d]", i), "must be an IP address or a CIDR range such as 10.0.0.0/8, got %q", p)
		}
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http.tls_cert", "http.tls_cert and http.tls_key go together: set both (HTTPS) or neither")
	} else if c.HTTP.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.HTTP.TLSCert, c.HTTP.TLSKey); err != nil {
			bad("http.tls_cert", "cannot load the certificate and key: %v", err)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if !recording.Format(c.Defaults.Format).Valid() {
		bad("defaults.format", "must be %s, got %q", oneOf(recording.Formats()), c.Defaults.Format)
	}
	if c.Defaults.DTMFTimeout < 100*time.Millisecond || c.Defaults.DTMFTimeout > time.Minute {
		bad("defaults.dtmf_timeout", "must be between 100ms and 1m, got %s", c.Defaults.DTMFTimeout)
	}
	seenCode := map[string]string{}
	for feature, code := range c.Defaults.FeatureCodes {
		key := "defaults.feature_codes." + feature
		if !recording.Feature(feature).Valid() {
			bad(key, "unknown feature (%s)", strings.Join(names(recording.Features()), ", "))
		}
		if !regexp.MustCompile(`^[0-9*#]{1,20}$`).MatchString(code) {
			bad(key, "must be 1-20 of 0-9, * and #, got %q", code)
		}
		if other, dup := seenCode[code]; dup {
			bad(key, "code %q is already used by %s", code, other)
		}
		seenCode[code] = feature
	}
	tenantIDs := map[string]bool{}
	defaults := 0
	for i, t := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		if _, err := uuid.Parse(t.UUID); err != nil || len(t.UUID) != 36 {
			bad(key+".uuid", "must be a UUID, got %q", t.UUID)
		}
		if tenantIDs[t.UUID] {
			bad(key+".uuid", "tenant %s is listed twice", t.UUID)
		}
		tenantIDs[t.UUID] = true
		if t.Name == "" {
			bad(key+".name", "is required")
		}
		if t.Default {
			defaults++
		}
		if !t.Default && len(t.Contexts)+len(t.EndpointPrefixes)+len(t.Domains) == 0 {
			bad(key, "needs contexts, endpoint_prefixes or domains (or default: true) to match channels")
		}
	}
	if defaults > 1 {
		bad("tenants", "only one tenant may be the default")
	}
	if c.SMTP.Host != "" {
		if c.SMTP.Port <= 0 || c.SMTP.Port > 65535 {
			bad("smtp.port", "must be 1-65535, got %d", c.SMTP.Port)
		}
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			bad("smtp.from", "must be an e-mail address, got %q", c.SMTP.From)
		}
		if !slices.Contains([]string{"starttls", "tls", "none"}, c.SMTP.TLS) {
			bad("smtp.tls", "must be starttls, tls or none, got %q", c.SMTP.TLS)
		}
	}
	for i, s := range c.Exports.Schedules {
		key := fmt.Sprintf("exports.schedules[%d]", i)
		if s.Name == "" {
			bad(key+".name", "is required")
		}
		if !tenantIDs[s.Tenant] {
			bad(key+".tenant", "must be the uuid of a tenant listed under tenants, got %q", s.Tenant)
		}
		if strings.HasPrefix(s.Cron, "TZ=") || strings.HasPrefix(s.Cron, "CRON_TZ=") {
			bad(key+".cron", "must not set TZ=: a schedule runs in its tenant's timezone, got %q", s.Cron)
		} else if _, err := cron.ParseStandard(s.Cron); err != nil {
			bad(key+".cron", "must be a 5-field cron expression such as \"22 1 * * 1\" or a descriptor such as @weekly (%v), got %q", err, s.Cron)
		}
		if !slices.Contains([]string{"previous_day", "previous_week", "previous_month"}, s.Period) {
			bad(key+".period", "must be previous_day, previous_week or previous_month, got %q", s.Period)
		}
		if s.Email != "" {
			if _, err := mail.ParseAddress(s.Email); err != nil {
				bad(key+".email", "must be an e-mail address, got %q", s.Email)
			}
		}
		if s.Webhook != "" && !httpURL(s.Webhook) {
			bad(key+".webhook", "must be an http(s) URL, got %q", s.Webhook)
		}
		if s.Directory != "" && !filepath.IsAbs(s.Directory) {
			bad(key+".directory", "must be an absolute path, got %q", s.Directory)
		}
		if d := s.Filters.CallDirection; d != "" && !slices.Contains([]string{"internal", "inbound", "outbound", "unknown"}, d) {
			bad(key+".filters.call_direction", "must be internal, inbound, outbound or unknown, got %q", d)
		}
		for _, u := range s.Filters.UserUUIDs {
			if _, err := uuid.Parse(u); err != nil || len(u) != 36 {
				bad(key+".filters.user_uuid", "must be user UUIDs, got %q", u)
			}
		}
		if seen := slices.IndexFunc(c.Exports.Schedules[:i], func(o Schedule) bool { return o.Tenant == s.Tenant && o.Name == s.Name }); seen >= 0 {
			bad(key+".name", "schedule %q of tenant %s is declared twice", s.Name, s.Tenant)
		}
	}
	if c.Exports.Dir == "" {
		bad("exports.dir", "is required")
	}
	if c.Exports.Keep <= 0 {
		bad("exports.keep", "must be a positive duration such as 48h, got %s", c.Exports.Keep)
	}
	if c.Exports.Workers < 1 || c.Exports.MaxPerTenant < 1 {
		bad("exports.workers", "exports.workers and exports.max_per_tenant must be at least 1, got %d and %d", c.Exports.Workers, c.Exports.MaxPerTenant)
	}
	if c.Exports.Webhook != "" && !httpURL(c.Exports.Webhook) {
		bad("exports.webhook", "must be an http(s) URL, got %q", c.Exports.Webhook)
	}
	if len(errs) > 0 {
		// Sorted so the first message is stable whatever the map order.
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return errors.Join(errs...)
	}
	return nil
}
