package config

import (
	"strings"
	"testing"
	"time"
)

// The export settings and schedules are checked at load, naming the key.
func TestExportSettingsValidation(t *testing.T) {
	const tn = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	base := func() Config {
		c := Default()
		c.Tenants = []Tenant{{UUID: tn, Name: "Acme", Default: true}}
		c.Exports.Schedules = []Schedule{{Name: "weekly", Tenant: tn, Cron: "22 1 * * 1", Period: "previous_week"}}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key string
		mut func(*Config)
	}{
		{"exports.schedules[0].cron", func(c *Config) { c.Exports.Schedules[0].Cron = "TZ=UTC 22 1 * * 1" }},
		{"exports.schedules[0].cron", func(c *Config) { c.Exports.Schedules[0].Cron = "22 1 * *" }},
		{"exports.schedules[0].period", func(c *Config) { c.Exports.Schedules[0].Period = "last_week" }},
		{"exports.schedules[0].webhook", func(c *Config) { c.Exports.Schedules[0].Webhook = "ftp://x" }},
		{"exports.schedules[0].directory", func(c *Config) { c.Exports.Schedules[0].Directory = "rel" }},
		{"exports.schedules[0].filters.call_direction", func(c *Config) { c.Exports.Schedules[0].Filters.CallDirection = "up" }},
		{"exports.schedules[0].filters.user_uuid", func(c *Config) { c.Exports.Schedules[0].Filters.UserUUIDs = []string{"x"} }},
		{"exports.schedules[1].name", func(c *Config) { c.Exports.Schedules = append(c.Exports.Schedules, c.Exports.Schedules[0]) }},
		{"exports.keep", func(c *Config) { c.Exports.Keep = -time.Hour }},
		{"exports.workers", func(c *Config) { c.Exports.MaxPerTenant = 0 }},
		{"exports.webhook", func(c *Config) { c.Exports.Webhook = "nope" }},
	} {
		c := base()
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
	c := base()
	c.Exports.Schedules[0].Cron = "@weekly"
	if err := c.Validate(); err != nil {
		t.Errorf("@weekly refused: %v", err)
	}
}
