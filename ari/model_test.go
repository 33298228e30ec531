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
