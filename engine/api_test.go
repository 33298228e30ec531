package engine

import "testing"

// A leg the PBX dialled carries the caller's id (Asterisk and FreeSWITCH
// both present it on the new channel), so a live call's parties are named
// by who they are: the originator by its caller id, a dialled user by its
// extension and name, a dialled outside number by what was dialled.
func TestCallPartiesAreNamedByWhoTheyAre(t *testing.T) {
	caller := func(id, ep, num, name string) ChannelCreated {
		return ChannelCreated{Channel: id, CallID: "L1", Tenant: "acme", Endpoint: ep, Role: RoleInternal,
			CallerNumber: num, CallerName: name}
	}
	for _, tc := range []struct {
		name  string
		legs  []Event
		parts map[string][2]string // channel → number, name
	}{
		{"internal call", []Event{
			dialTo(caller("A", "1001", "1001", "Olga"), "1002"),
			dialTo(caller("B", "1002", "1001", "Olga"), "1002"),
		}, map[string][2]string{"A": {"1001", "Olga"}, "B": {"1002", "user 1002"}}},
		{"outbound call", []Event{
			dialTo(caller("A", "1001", "1001", "Olga"), "0612345678"),
			ChannelCreated{Channel: "T", CallID: "L1", Tenant: "acme", Endpoint: "carrier", Role: RoleExternal,
				CallerNumber: "1001", CallerName: "Olga", CalleeNumber: "0612345678"},
		}, map[string][2]string{"A": {"1001", "Olga"}, "T": {"0612345678", ""}}},
		{"inbound call, caller without a name", []Event{
			dialTo(ext("T", "L1", "+4915112345678"), "49305551001"),
			dialTo(caller("A", "1001", "+4915112345678", ""), "1001"),
		}, map[string][2]string{"T": {"+4915112345678", ""}, "A": {"1001", "user 1001"}}},
		{"originator's name from its user when the PBX sends none", []Event{
			dialTo(caller("A", "1001", "1001", ""), "1002"),
			dialTo(caller("B", "1002", "1001", ""), "1002"),
		}, map[string][2]string{"A": {"1001", "user 1001"}, "B": {"1002", "user 1002"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.user("1001", nil)
			h.user("1002", nil)
			h.send(tc.legs...)
			cs := h.e.Calls("")
			if len(cs) != 1 || len(cs[0].Parties) != len(tc.parts) {
				t.Fatalf("calls %+v", cs)
			}
			for _, p := range cs[0].Parties {
				if got := [2]string{p.Number, p.Name}; got != tc.parts[p.Channel] {
					t.Errorf("party %s: %q, want %q", p.Channel, got, tc.parts[p.Channel])
				}
			}
		})
	}
}
