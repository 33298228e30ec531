package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callrecd/callrecd/store"
)

// appendJSONString must escape exactly as encoding/json does: every single
// byte and every rune boundary case on its own (whole pages are checked in
// TestAppendCallMatchesRenderCDR).
func TestJSONStringMatches(t *testing.T) {
	for c := range 256 {
		s := string([]byte{byte(c)})
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("byte %#x: got %q want %q", c, got, want)
		}
	}
	for _, s := range []string{"\u2028x\u2029", string(utf8.RuneError), "\xf4\x90\x80\x80", "ok"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q want %q", s, got, want)
		}
	}
}

// writeCalls renders /cdr straight from the store's calls; it must write
// what encoding/json's Encoder (echo's c.JSON) writes for the cdrList
// renderCDR makes of them: field order, nulls, escaping, time formats.
func TestAppendCallMatchesRenderCDR(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\x00", "\x01", "\x1f", "\x7f",
		"\b", "\f", "\n", "\r", "\t", "é", "€", "😀", "\u2028", "\u2029", "\xff", "\xe2\x82", "\xed\xa0\x80", "'"}
	str := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		var sb strings.Builder
		for range r.IntN(8) + 1 {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	tm := func() time.Time {
		switch r.IntN(10) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(10000+r.IntN(100), 1, 1, 0, 0, 0, 0, time.UTC)
		case 2:
			return time.Unix(-r.Int64N(1e11), r.Int64N(1e9)).UTC()
		}
		return time.UnixMicro(r.Int64N(2e15)).UTC()
	}
	tp := func() *time.Time {
		if r.IntN(3) == 0 {
			return nil
		}
		v := tm()
		return &v
	}
	s := &server{contexts: map[string]string{"t1": "ctx-<1>", "t2": ""}, defCtx: "default"}
	for n := range 20000 {
		calls := make([]store.Call, r.IntN(4))
		for i := range calls {
			c := store.Call{ID: r.Int64() - r.Int64(), TenantUUID: []string{"t1", "t2", "t3", str()}[r.IntN(4)],
				PBXCallID: str(), Start: tm(), Answer: tp(), End: tp(), Direction: str(),
				SourceExtension: str(), SourceName: str(), SourceUserUUID: str(), DestinationExtension: str(),
				DestinationName: str(), DestinationUserUUID: str(), RequestedExtension: str()}
			switch r.IntN(3) {
			case 0: // nil
			case 1:
				c.Tags = []string{}
			default:
				for range r.IntN(3) + 1 {
					c.Tags = append(c.Tags, str())
				}
			}
			for range r.IntN(3) {
				rec := store.Recording{UUID: str(), Start: tm(), End: tp(),
					Deleted: r.IntN(2) == 0, Filename: str(), State: str(), StartedBy: str(), StopReason: str(),
					FailureReason: str(), Format: str(), Size: r.Int64N(1 << 40), SHA256: str(),
					Duration: time.Duration(r.Int64N(1e7)) * time.Millisecond * time.Duration(r.IntN(2))}
				for range r.IntN(3) {
					rec.PausedIntervals = append(rec.PausedIntervals, store.Interval{Start: tm(), End: tp()})
				}
				c.Recordings = append(c.Recordings, rec)
			}
			calls[i] = c
		}
		total, filtered := r.IntN(1000), r.IntN(1000)
		l := cdrList{Items: make([]cdrJSON, len(calls)), Total: total, Filtered: filtered}
		var got []byte
		got = append(got, `{"items":[`...)
		for i := range calls {
			l.Items[i] = s.renderCDR(calls[i])
			if i > 0 {
				got = append(got, ',')
			}
			got = s.appendCall(got, &calls[i])
		}
		got = append(got, `],"total":`...)
		got = append(got, strconv.Itoa(total)...)
		got = append(got, `,"filtered":`...)
		got = append(got, strconv.Itoa(filtered)...)
		got = append(got, '}', '\n')
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(l); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("page %d:\n got %s\nwant %s", n, got, want.Bytes())
		}
	}
}
