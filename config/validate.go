// Validate: every value checked, every problem naming its key.

package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
)

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
	errs = append(errs, c.SIP.validate()...)
	if len(errs) > 0 {
		// Sorted so the first message is stable whatever the map order.
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return errors.Join(errs...)
	}
	return nil
}
