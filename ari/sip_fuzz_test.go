package ari

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fuzzTraceStrings collects the distinct values of a JSON string field
// ("name", "from", "id", ...) anywhere in the real traces' events.
func fuzzTraceStrings(tb testing.TB, field string) []string {
	tb.Helper()
	re := regexp.MustCompile(`"` + regexp.QuoteMeta(field) + `":("(?:[^"\\]|\\.)*")`)
	set := map[string]bool{}
	for _, tr := range fuzzTraces(tb) {
		for _, ev := range tr.events {
			for _, m := range re.FindAllSubmatch(ev, -1) {
				var s string
				if json.Unmarshal(m[1], &s) == nil {
					set[s] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// FuzzChannelName: the channel-name parsers of model.go on any string
// (Channel.Endpoint / endpointOf, spiedOf, localBase, channelTech).
// Promised: no panic; Endpoint is "" for every technology but PJSIP, else
// a part of the name; a channel Asterisk names <tech>/<endpoint>-<8 hex>
// (PJSIP/<e>-0000002a, Snoop/<uniqueid>-00000001) gives its endpoint /
// spied uniqueid back, whatever '-' they contain (the "-<sequence>" suffix
// is cut at the last '-'), so Endpoint is idempotent on what it returns.
// Endpoint names with ';' are left out: model.go cuts a Local channel's
// ";1"/";2" for every technology, and no PJSIP endpoint (a pjsip.conf
// section) has a ';' in its name.
// Seeds: every channel name of the real traces.
func FuzzChannelName(f *testing.F) {
	for _, n := range fuzzTraceStrings(f, "name") {
		f.Add(n)
	}
	for _, n := range []string{"PJSIP/1001-0000002a", "PJSIP/carrier-00000018", "PJSIP/carrier-out-00000001",
		"Local/1003@phones-00000002;2", "Snoop/pbx-1795288322.4-00000000", "PJSIP/1001", "PJSIP/-1", "", "/", "PJSIP/;"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		tech, res := channelTech(name)
		if strings.Contains(tech, "/") || (tech != name || res != "") && tech+"/"+res != name {
			t.Fatalf("channelTech(%q) = %q, %q: not a split at the first '/'", name, tech, res)
		}
		ep := Channel{Name: name}.Endpoint()
		if tech != "PJSIP" && ep != "" {
			t.Fatalf("Endpoint(%q) = %q for technology %q, want \"\"", name, ep, tech)
		}
		if !strings.Contains(res, ep) {
			t.Fatalf("Endpoint(%q) = %q: not part of the resource %q", name, ep, res)
		}
		if ep != "" && !strings.Contains(ep, ";") {
			if again := (Channel{Name: "PJSIP/" + ep + "-0000002a"}).Endpoint(); again != ep {
				t.Fatalf("Endpoint(%q) = %q, but Endpoint(PJSIP/%s-0000002a) = %q", name, ep, ep, again)
			}
		}
		// The input as an endpoint name / a uniqueid, in an Asterisk
		// channel name.
		if name != "" && !strings.Contains(name, ";") {
			if got := (Channel{Name: "PJSIP/" + name + "-0000002a"}).Endpoint(); got != name {
				t.Fatalf("endpoint %q: Endpoint(PJSIP/%s-0000002a) = %q", name, name, got)
			}
		}
		if name != "" {
			if got := spiedOf("Snoop/" + name + "-00000001"); got != name {
				t.Fatalf("uniqueid %q: spiedOf(Snoop/%s-00000001) = %q", name, name, got)
			}
		}
		if sp := spiedOf(name); sp != "" {
			if tech != "Snoop" || !strings.HasPrefix(res, sp+"-") {
				t.Fatalf("spiedOf(%q) = %q: not the resource before its last '-'", name, sp)
			}
		}
		lb := localBase(name)
		switch {
		case !strings.HasPrefix(name, lb):
			t.Fatalf("localBase(%q) = %q: not a prefix", name, lb)
		case lb == name && strings.Contains(name, ";"), lb != name && (name[len(lb)] != ';' || strings.Contains(name[len(lb)+1:], ";")):
			t.Fatalf("localBase(%q) = %q: not the name before its last ';'", name, lb)
		}
	})
}

// FuzzSIPUser: sipUser, the From-URI parsing behind TextMessageReceived's
// Endpoint when Asterisk named no endpoint. Promised: no panic; the result
// is a part of the address and holds no '@' or ';' (it is cut at the first
// of them, and is "" when there is neither: a bare "1001" names nobody); a
// user part u (no '@', ';', '<', '>', as RFC 3261 wants) comes back from
// every address form Asterisk and phones send; the result, when it is such a
// user part itself, comes back from an address built of it (idempotence).
// Seeds: the From of every real TextMessageReceived, and the address forms
// of the sipUser unit test and the lab's SIP requests.
func FuzzSIPUser(f *testing.F) {
	for _, s := range fuzzTraceStrings(f, "from") {
		f.Add(s)
	}
	for _, s := range []string{"<sip:1001@127.0.0.1>;tag=333e1a1f", "sip:1001@pbx", `"Bob" <sips:1002@host:5061>`,
		"<sip:1003;user=phone@h>", "1001", "", "<sip:+4915112345678@127.0.0.2>", "<tel:+4930555>", "sip:carrier-out@127.0.0.2:5070"} {
		f.Add(s)
	}
	forms := []func(u string) string{
		func(u string) string { return "<sip:" + u + "@127.0.0.1>;tag=333e1a1f" },
		func(u string) string { return "<sip:" + u + "@127.0.0.1>" },
		func(u string) string { return "sip:" + u + "@pbx" },
		func(u string) string { return `"Bob" <sips:` + u + `@host:5061>` },
		func(u string) string { return "<sip:" + u + ";user=phone@h>" },
	}
	f.Fuzz(func(t *testing.T, addr string) {
		u := sipUser(addr)
		if strings.ContainsAny(u, "@;") {
			t.Fatalf("sipUser(%q) = %q: holds '@' or ';'", addr, u)
		}
		if !strings.Contains(addr, u) {
			t.Fatalf("sipUser(%q) = %q: not part of the address", addr, u)
		}
		if u != "" && !strings.ContainsAny(addr, "@;") {
			t.Fatalf("sipUser(%q) = %q without any '@' or ';'", addr, u)
		}
		if !strings.ContainsAny(u, "<>") {
			for _, form := range forms {
				if again := sipUser(form(u)); again != u {
					t.Fatalf("sipUser(%q) = %q, but sipUser(%q) = %q", addr, u, form(u), again)
				}
			}
		}
		// The input as a user part.
		if !strings.ContainsAny(addr, "@;<>") {
			for _, form := range forms {
				if got := sipUser(form(addr)); got != addr {
					t.Fatalf("user %q: sipUser(%q) = %q", addr, form(addr), got)
				}
			}
		}
	})
}
