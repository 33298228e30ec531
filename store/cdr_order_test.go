package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// The web page sorts calls by their recordings' columns too; a call without
// a recording (NULL) comes first ascending, last descending; ties keep id
// order.
func TestQueryCDROrderByRecordings(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	base := time.Date(2021, 5, 14, 17, 0, 0, 0, time.UTC)
	type rec struct {
		format  recording.Format
		size    int64
		state   recording.State
		by      recording.StartedBy
		stop    recording.StopReason
		deleted bool
	}
	mk := func(minute int, recs ...rec) int64 {
		t.Helper()
		c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint("p", minute), Start: base.Add(time.Duration(minute) * time.Minute),
			Direction: DirectionInternal})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			u := fmt.Sprintf("5ea37d0b-0823-4d2b-a18c-%012d", c.ID*10+int64(i))
			if err := s.CreateRecording(ctx, Recording{UUID: u, CallID: c.ID, TenantUUID: tenantA, Start: c.Start, Filename: u + "." + string(r.format),
				Format: string(r.format), Size: r.size, State: string(r.state), StartedBy: string(r.by), StopReason: string(r.stop)}); err != nil {
				t.Fatal(err)
			}
			if r.deleted {
				if _, err := s.q.ExecContext(ctx, `UPDATE recordings SET deleted = 1 WHERE uuid = ?`, u); err != nil {
					t.Fatal(err)
				}
			}
		}
		return c.ID
	}
	wav := rec{recording.WAV, 500, recording.StateStopped, recording.ByPolicy, recording.StopHangup, false}
	mp3 := rec{recording.MP3, 100, recording.StateRecording, recording.ByDTMF, "", false}
	big := rec{recording.AMR, 9000, recording.StateStopped, recording.ByAPI, recording.StopAPI, true} // deleted: not counted
	a := mk(0, wav, mp3)                                                                              // wav+mp3, 600 bytes
	b := mk(1, mp3)                                                                                   // mp3, 100 bytes
	c := mk(2)                                                                                        // none
	d := mk(3, wav, big)                                                                              // wav, 500 bytes (the deleted AMR does not count)
	for _, tc := range []struct {
		order string
		desc  bool
		want  []int64
	}{
		{"recording_size", false, []int64{c, b, d, a}},
		{"recording_size", true, []int64{a, d, b, c}},
		{"recording_format", false, []int64{c, a, b, d}}, // a and b both have an MP3 ("mp3" < "wav"): id order
		{"recording_state", false, []int64{c, a, b, d}},  // "recording" < "stopped"
		{"recording_started_by", false, []int64{c, a, b, d}},
		{"recording_stop_reason", true, []int64{d, a, c, b}}, // "hangup"; b has only a running one (NULL)
	} {
		t.Run(fmt.Sprint(tc.order, " desc=", tc.desc), func(t *testing.T) {
			calls, _, _, err := s.QueryCDR(ctx, CDRQuery{Tenant: tenantA, Order: tc.order, Desc: tc.desc})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range calls {
				got = append(got, c.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}
