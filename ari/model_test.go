package ari

import "testing"

func TestChannelEndpoint(t *testing.T) {
	for name, want := range map[string]string{
		"PJSIP/1001-0000002a":    "1001",
		"PJSIP/carrier-00000001": "carrier",
		"Snoop/1234.5-00000000":  "",
		"Local/1003@phones-1;2":  "",
		"PJSIP/1001":             "1001",
	} {
		if got := (Channel{Name: name}).Endpoint(); got != want {
			t.Errorf("%s: endpoint %q, want %q", name, got, want)
		}
	}
}

func TestSIPUser(t *testing.T) {
	for in, want := range map[string]string{
		"<sip:1001@127.0.0.1>;tag=20f3a07f": "1001",
		"sip:1001@pbx":                      "1001",
		`"Bob" <sips:1002@host:5061>`:       "1002",
		"<sip:1003;user=phone@h>":           "1003",
		"1001":                              "",
		"":                                  "",
	} {
		if got := sipUser(in); got != want {
			t.Errorf("sipUser(%q) = %q, want %q", in, got, want)
		}
	}
}
