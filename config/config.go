// Package config loads callrecd's configuration: one YAML file, then
// CALLRECD_* environment overrides, then command-line flags, validated before
// anything starts. Every problem names the key it is about.
package config

import (
	"net"
	"strings"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
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

	// SIP is callrecd's own SIP listener (sip.go).
	SIP SIPConfig `koanf:"sip"`
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

// SpoolOverARI as pbx.asterisk.recording_spool: Asterisk's spool is not
// reachable from callrecd's machine; finished recordings come over ARI
// (/recordings/stored/{name}/file) and are deleted there once placed.
const SpoolOverARI = "ari"

// Asterisk is the ARI connection.
type Asterisk struct {
	URL      string `koanf:"url"` // e.g. http://127.0.0.1:8088/ari
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	App      string `koanf:"app"`
	// RecordingSpool is where Asterisk writes ARI recordings, as callrecd
	// sees the folder (it moves finished files out of it), or SpoolOverARI
	// when callrecd cannot see it: every file is then fetched over ARI.
	// Files a readable folder lacks are fetched over ARI too.
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
		SIP:     defaultSIP(),
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
