package esl

import (
	"slices"
	"strings"

	"github.com/callrecd/callrecd/engine"
)

// Mapping tells what FreeSWITCH's channels are to callrecd: their tenant and
// whether they face a carrier. It comes from the configuration.
type Mapping struct {
	Tenants []TenantRule
	// TrunkProfiles are the sofia profiles that face carriers (vanilla
	// "external"); TrunkGateways the gateways whose legs are external
	// wherever they run. OutsideCall also counts a leg external when the
	// dialplan set outside_call=true on it (vanilla's public context does).
	TrunkProfiles []string
	TrunkGateways []string
	OutsideCall   bool
	// IgnoreProfiles are sofia profiles whose channels are not the PBX's
	// (a test rig's phones, a profile of another service): never a party.
	IgnoreProfiles []string
}

// TenantRule maps channels to one tenant: by their domain (the directory
// domain of the user, the dialled domain) or their dialplan context.
type TenantRule struct {
	UUID     string
	Domains  []string
	Contexts []string
	Default  bool
}

// profile is the sofia profile a channel runs on ("" for other endpoints).
func profile(ev Event) string {
	if p := ev.Get("variable_sofia_profile_name"); p != "" {
		return p
	}
	if p := ev.Get("variable_sip_profile_name"); p != "" {
		return p
	}
	if rest, ok := strings.CutPrefix(channelName(ev), "sofia/"); ok {
		p, _, _ := strings.Cut(rest, "/")
		return p
	}
	return ""
}

func channelName(ev Event) string {
	if n := ev.Get("Channel-Name"); n != "" {
		return n
	}
	return ev.Get("variable_channel_name")
}

// ignored reports whether a channel is not one of the PBX's legs.
func (m Mapping) ignored(ev Event) bool {
	return len(m.IgnoreProfiles) > 0 && slices.Contains(m.IgnoreProfiles, profile(ev))
}

// role: loopback legs connect, trunk legs are external, other sofia legs
// are users' phones; anything else is unknown (treated as external).
func (m Mapping) role(ev Event) engine.Role {
	name := channelName(ev)
	switch {
	case strings.HasPrefix(name, "loopback/"):
		return engine.RoleLocal
	case slices.Contains(m.TrunkProfiles, profile(ev)):
		return engine.RoleExternal
	case m.gateway(ev) != "" && slices.Contains(m.TrunkGateways, m.gateway(ev)):
		return engine.RoleExternal
	case m.OutsideCall && ev.Get("variable_outside_call") == "true":
		return engine.RoleExternal
	case strings.HasPrefix(name, "sofia/"):
		return engine.RoleInternal
	}
	return engine.RoleUnknown
}

func (m Mapping) gateway(ev Event) string {
	if g := ev.Get("variable_sip_gateway_name"); g != "" {
		return g
	}
	if rest, ok := strings.CutPrefix(channelName(ev), "sofia/gateway/"); ok {
		g, _, _ := strings.Cut(rest, "/")
		return g
	}
	return ""
}

// domain is the channel's directory domain: the caller's user domain, or
// the domain dialled for a callee.
func domain(ev Event) string {
	for _, k := range []string{"variable_domain_name", "variable_dialed_domain", "variable_sip_invite_domain"} {
		if d := ev.Get(k); d != "" {
			return d
		}
	}
	if _, host, ok := strings.Cut(ev.Get("Channel-Presence-ID"), "@"); ok {
		return host
	}
	return ""
}

// tenant: the first rule naming the channel's domain, else its context,
// else the default tenant.
func (m Mapping) tenant(ev Event) string {
	d, ctx := domain(ev), ev.Get("Caller-Context")
	for _, t := range m.Tenants {
		if d != "" && slices.Contains(t.Domains, d) {
			return t.UUID
		}
	}
	for _, t := range m.Tenants {
		if ctx != "" && slices.Contains(t.Contexts, ctx) {
			return t.UUID
		}
	}
	for _, t := range m.Tenants {
		if t.Default {
			return t.UUID
		}
	}
	return ""
}

// endpoint is the user a phone leg belongs to (the directory user name):
// the caller who authenticated, or the user dialled.
func endpoint(ev Event) string {
	if ev.Get("Call-Direction") == "outbound" {
		if u := ev.Get("variable_dialed_user"); u != "" {
			return u
		}
		if rest, ok := strings.CutPrefix(channelName(ev), "sofia/"+profile(ev)+"/"); ok {
			u, _, _ := strings.Cut(rest, "@")
			return u
		}
		return ""
	}
	for _, k := range []string{"variable_user_name", "variable_sip_auth_username", "variable_sip_from_user"} {
		if u := ev.Get(k); u != "" {
			return u
		}
	}
	return ""
}
