//go:build lab

package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/internal/lab"
)

// ourSnoops lists the snoop channels callrecd has on the PBX.
func (e *env) ourSnoops() []string {
	e.t.Helper()
	var chans []ari.Channel
	pbx := ari.NewREST(e.ariURL+"/ari", "recorder", "secret", 3*time.Second)
	defer pbx.Close()
	if err := pbx.Do(e.ctx, http.MethodGet, "/channels", nil, nil, &chans); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ch := range chans {
		if strings.HasPrefix(ch.ID, ari.SnoopPrefix) {
			out = append(out, ch.ID)
		}
	}
	return out
}

// A call that rings is prepared while it rings (a spare snoop on the leg it
// will be recorded on, named after the recording to come), the answer
// records on that snoop, and nothing is left on the PBX afterwards. A call
// given up while ringing leaves neither a recording nor a snoop.
func TestStoryRingingCallRecordedOnPreparedSnoop(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	e.drv.SetAnswer("1002", lab.Answer{Delay: 1500 * time.Millisecond})
	caller, err := e.drv.CallPhone(e.ctx, "1001", "1002")
	if err != nil {
		t.Fatal(err)
	}
	var spare string
	e.eventually(1200*time.Millisecond, "a spare snoop while 1002 rings", func() bool {
		s := e.ourSnoops()
		if len(s) == 1 && strings.HasSuffix(s[0], "-0") {
			spare = s[0]
		}
		return spare != ""
	})
	if rs := e.recordings(); len(rs) != 0 {
		t.Fatalf("recording while the call still rings: %+v", rs)
	}
	e.answered(caller, nil, "1002")
	time.Sleep(talk)
	e.hangup(caller)
	r, w := e.oneRecording("hangup", "policy", talk)
	if want := ari.SnoopPrefix + r.UUID + "-0"; spare != want {
		t.Errorf("recorded as %s; the snoop prepared while ringing was %s", want, spare)
	}
	e.tonesPresent(w, 1.2, []string{"1001", "1002"}, nil)
	e.eventually(3*time.Second, "no snoop left on the PBX", func() bool { return len(e.ourSnoops()) == 0 })

	// given up while ringing
	e.drv.SetAnswer("1002", lab.Answer{Never: true})
	caller, err = e.drv.CallPhone(e.ctx, "1001", "1002")
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(1200*time.Millisecond, "a spare snoop while 1002 rings", func() bool { return len(e.ourSnoops()) == 1 })
	e.hangup(caller)
	e.eventually(3*time.Second, "the spare snoop deleted", func() bool { return len(e.ourSnoops()) == 0 })
	time.Sleep(500 * time.Millisecond)
	if rs := e.recordings(); len(rs) != 1 {
		t.Fatalf("%d recordings after the unanswered call, want still 1", len(rs))
	}
}
