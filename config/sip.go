// The sip section: callrecd's own SIP listener for PortSIP's
// recording-control MESSAGE (package sipctl).

package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
)

// SIPConfig is callrecd's SIP listener. Off by default: a site turns it on
// when its phones send PortSIP's out-of-dialog MESSAGE to callrecd (the
// PBX's own SIP stack may refuse the content type: Asterisk answers 415).
type SIPConfig struct {
	Enabled bool `koanf:"enabled"`
	// ListenUDP, ListenTCP and ListenTLS are host:port; "" leaves that
	// transport off. TLS needs TLSCert and TLSKey (PEM files).
	ListenUDP string `koanf:"listen_udp"`
	ListenTCP string `koanf:"listen_tcp"`
	ListenTLS string `koanf:"listen_tls"`
	TLSCert   string `koanf:"tls_cert"`
	TLSKey    string `koanf:"tls_key"`
	// Realm is the digest realm of the challenges; stored credentials are
	// hashed for it, so changing it means setting every password again.
	Realm string `koanf:"realm"`
	// TrustedNetworks (addresses or CIDR ranges, e.g. the phones' LAN
	// behind the PBX) are believed without a digest: the sender is the
	// From URI's user. Keep it to networks where From cannot be forged.
	TrustedNetworks []string `koanf:"trusted_networks"`
}

// defaultSIP is the sip section when the file does not set it.
func defaultSIP() SIPConfig {
	return SIPConfig{ListenUDP: "127.0.0.1:5062", ListenTCP: "127.0.0.1:5062", Realm: "callrecd"}
}

// TrustedNets is TrustedNetworks parsed (Validate has checked it).
func (s SIPConfig) TrustedNets() []*net.IPNet {
	var out []*net.IPNet
	for _, p := range s.TrustedNetworks {
		if n, err := parseProxy(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// validate checks the sip section, naming each bad key.
func (s SIPConfig) validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &Error{Key: "sip." + key, Problem: fmt.Sprintf(format, a...)})
	}
	for key, addr := range map[string]string{"listen_udp": s.ListenUDP, "listen_tcp": s.ListenTCP, "listen_tls": s.ListenTLS} {
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(key, "must be host:port such as 0.0.0.0:5062, got %q", addr)
		}
	}
	if s.Enabled && s.ListenUDP == "" && s.ListenTCP == "" && s.ListenTLS == "" {
		bad("enabled", "the listener is enabled but sip.listen_udp, sip.listen_tcp and sip.listen_tls are all empty")
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		bad("tls_cert", "sip.tls_cert and sip.tls_key go together: set both or neither")
	} else if s.TLSCert != "" && s.Enabled {
		if _, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey); err != nil {
			bad("tls_cert", "cannot load the certificate and key: %v", err)
		}
	}
	if s.ListenTLS != "" && s.TLSCert == "" {
		bad("listen_tls", "needs sip.tls_cert and sip.tls_key")
	}
	if s.Realm == "" || len(s.Realm) > 128 || strings.ContainsAny(s.Realm, "\"\\\r\n") {
		bad("realm", "must be 1-128 characters without quotes, backslashes or line breaks, got %q", s.Realm)
	}
	for i, n := range s.TrustedNetworks {
		if _, err := parseProxy(n); err != nil {
			bad(fmt.Sprintf("trusted_networks[%d]", i), "must be an IP address or a CIDR range such as 10.0.0.0/8, got %q", n)
		}
	}
	return errs
}
