package config

import (
	"strings"
	"testing"
)

func TestSIPSection(t *testing.T) {
	cfg, err := Load("", []string{}, nil)
	if err != nil || cfg.SIP.Enabled || cfg.SIP.Realm != "callrecd" || cfg.SIP.ListenUDP != "127.0.0.1:5062" {
		t.Fatalf("defaults %+v %v", cfg.SIP, err)
	}
	cfg, err = Load(writeFile(t, "sip:\n  enabled: true\n  listen_tcp: \"\"\n  trusted_networks: [10.0.0.0/8, 192.168.1.7]\n"), []string{}, nil)
	if err != nil || len(cfg.SIP.TrustedNets()) != 2 || !cfg.SIP.TrustedNets()[1].Contains([]byte{192, 168, 1, 7}) {
		t.Fatalf("%+v %v", cfg.SIP, err)
	}
	for _, c := range []struct{ yaml, key string }{
		{"sip:\n  listen_udp: nowhere\n", "sip.listen_udp"},
		{"sip:\n  enabled: true\n  listen_udp: \"\"\n  listen_tcp: \"\"\n", "sip.enabled"},
		{"sip:\n  listen_tls: 127.0.0.1:5063\n", "sip.listen_tls"},
		{"sip:\n  tls_cert: /x.pem\n", "sip.tls_cert"},
		{"sip:\n  enabled: true\n  tls_cert: /nonexistent.pem\n  tls_key: /nonexistent.key\n", "sip.tls_cert"},
		{"sip:\n  realm: 'a\"b'\n", "sip.realm"},
		{"sip:\n  realm: \"\"\n", "sip.realm"},
		{"sip:\n  trusted_networks: [phones.example.com]\n", "sip.trusted_networks[0]"},
		{"sip:\n  listen: 1\n", "sip.listen"},
	} {
		_, err := Load(writeFile(t, c.yaml), []string{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: %v, want an error naming %s", c.yaml, err, c.key)
		}
	}
	if _, err := Load("", []string{"CALLRECD_SIP__REALM=pbx.example.com", "CALLRECD_SIP__ENABLED=true"}, nil); err != nil {
		t.Fatalf("environment override: %v", err)
	}
}
