//go:build lab

package lab

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestLabConfig proves what testdata/asterisk provides: DIDs, the carrier trunk, REFER
// and DTMF transfers, the queue and ring group tags, and *26 into Stasis(callrecd).
func TestLabConfig(t *testing.T) {
	ctx, pbx, drv := labUp(t, 90*time.Second)

	up := func(t *testing.T, ps ...*Party) {
		t.Helper()
		for _, p := range ps {
			if err := p.WaitUp(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	incoming := func(t *testing.T, number string) *Party {
		t.Helper()
		p, err := drv.Incoming(ctx, number)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// talking proves two parties are connected through the PBX: a digit from a reaches b
	talking := func(t *testing.T, a, b *Party, digit string) {
		t.Helper()
		if err := a.SendDTMF(ctx, digit, false); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		if err := b.WaitDigits(wctx, digit); err != nil {
			t.Fatal(err)
		}
	}
	ended := func(t *testing.T, ps ...*Party) {
		t.Helper()
		for _, p := range ps {
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			err := p.WaitEnded(wctx)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	hangup := func(ps ...*Party) {
		for _, p := range ps {
			_ = p.Hangup(ctx)
		}
	}
	// the first bridge event of the PBX leg of endpoint ep created after cursor
	enteredBridge := func(t *testing.T, from int, ep string) Event {
		t.Helper()
		ev, _, err := pbx.Events.WaitFrom(ctx, from, "ChannelEnteredBridge of "+ep, func(e Event) bool {
			return e.Type == "ChannelEnteredBridge" && e.Channel != nil && e.Channel.Endpoint() == ep
		})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}

	t.Run("inbound DID then blind transfer by REFER to an external number", func(t *testing.T) {
		caller, err := drv.CallFromCarrier(ctx, "+4915112345678", "49305551003")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		user := incoming(t, "1003")
		defer hangup(user)
		up(t, caller, user)
		if user.Caller.Number != "+4915112345678" {
			t.Errorf("1003 sees caller %+v", user.Caller)
		}
		talking(t, caller, user, "1")
		if err := user.BlindTransfer(ctx, "94930123456"); err != nil {
			t.Fatal(err)
		}
		ext := incoming(t, "4930123456")
		defer hangup(ext)
		up(t, ext)
		ended(t, user)
		talking(t, caller, ext, "2")
	})

	t.Run("internal call then DTMF blind transfer #1 to 1004", func(t *testing.T) {
		caller, err := drv.CallPhone(ctx, "1001", "1002")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		callee := incoming(t, "1002")
		defer hangup(callee)
		up(t, caller, callee)
		if err := callee.SendDTMF(ctx, "#11004", false); err != nil {
			t.Fatal(err)
		}
		target := incoming(t, "1004")
		defer hangup(target)
		up(t, target)
		ended(t, callee)
		talking(t, caller, target, "3")
	})

	t.Run("inbound DID then DTMF attended transfer *2 to an external number", func(t *testing.T) {
		caller, err := drv.CallFromCarrier(ctx, "+4915100000001", "49305551001")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		user := incoming(t, "1001")
		defer hangup(user)
		up(t, caller, user)
		if err := user.SendDTMF(ctx, "*294930777888", false); err != nil {
			t.Fatal(err)
		}
		ext := incoming(t, "4930777888") // after transferdigittimeout (3 s)
		defer hangup(ext)
		up(t, ext)
		talking(t, user, ext, "4") // consultation call
		if err := user.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		talking(t, caller, ext, "5") // transfer completed: outside <-> outside
	})

	t.Run("queue support tags the member leg", func(t *testing.T) {
		drv.SetAnswer("1002", Answer{Never: true})
		defer drv.SetAnswer("1002", Answer{})
		from := pbx.Events.Len()
		caller, err := drv.CallPhone(ctx, "1001", "600")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		// 1002 rings but never answers (when 1003 answers first the PBX may cancel 1002
		// before the peer ever sees it, so do not wait for it)
		member := incoming(t, "1003")
		defer hangup(member)
		up(t, caller, member)
		ev := enteredBridge(t, from, "1003")
		if got := ev.Channel.ChannelVars["CALLRECD_QUEUE"]; got != "support" {
			t.Errorf("1003's leg: CALLRECD_QUEUE=%q, want support (channelvars %v)", got, ev.Channel.ChannelVars)
		}
		talking(t, caller, member, "6")
	})

	t.Run("ring group sales tags the callee leg, inbound DID", func(t *testing.T) {
		drv.SetAnswer("1003", Answer{Never: true})
		defer drv.SetAnswer("1003", Answer{})
		from := pbx.Events.Len()
		caller, err := drv.CallFromCarrier(ctx, "+4915100000002", "49305550700")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		member := incoming(t, "1004") // 1003 rings but never answers
		defer hangup(member)
		up(t, caller, member)
		ev := enteredBridge(t, from, "1004")
		if got := ev.Channel.ChannelVars["CALLRECD_GROUP"]; got != "sales" {
			t.Errorf("1004's leg: CALLRECD_GROUP=%q, want sales (channelvars %v)", got, ev.Channel.ChannelVars)
		}
		talking(t, caller, member, "7")
	})

	t.Run("*26 enters Stasis(callrecd,feature,callrecord)", func(t *testing.T) {
		from := pbx.Events.Len()
		caller, err := drv.CallPhone(ctx, "1001", "*26")
		if err != nil {
			t.Fatal(err)
		}
		defer hangup(caller)
		ev, _, err := pbx.Events.WaitFrom(ctx, from, "StasisStart of *26", func(e Event) bool {
			return e.Type == "StasisStart" && e.Channel != nil && e.Channel.Endpoint() == "1001"
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Args) != 2 || ev.Args[0] != "feature" || ev.Args[1] != "callrecord" {
			t.Errorf("args %v, want [feature callrecord]", ev.Args)
		}
		id := ev.Channel.ID
		if err := pbx.Do(ctx, http.MethodPost, "/channels/"+id+"/answer", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		up(t, caller)
		if err := pbx.Do(ctx, http.MethodPost, "/channels/"+id+"/play", url.Values{"media": {"sound:beep"}}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pbx.Events.WaitFrom(ctx, from, "PlaybackFinished", func(e Event) bool {
			return e.Type == "PlaybackFinished" && e.Playback != nil && e.Playback.TargetURI == "channel:"+id
		}); err != nil {
			t.Fatal(err)
		}
		if err := pbx.Hangup(ctx, id); err != nil {
			t.Fatal(err)
		}
		ended(t, caller)
	})
}
