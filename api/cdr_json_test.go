package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// writeCDRList must write exactly what encoding/json's Encoder (echo's
// c.JSON) writes for the same page: field order, nulls, escaping, newline.
func TestCDRJSONMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\x00", "\x01", "\x1f", "\x7f",
		"\b", "\f", "\n", "\r", "\t", "é", "€", "😀", "\u2028", "\u2029", "\xff", "\xe2\x82", "\xed\xa0\x80", "'"}
	str := func() string {
		var sb strings.Builder
		for range r.IntN(12) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	ptr := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	iptr := func() *int64 {
		if r.IntN(3) == 0 {
			return nil
		}
		v := r.Int64() - r.Int64()
		return &v
	}
	page := func() cdrList {
		var l cdrList
		if r.IntN(10) > 0 {
			l.Items = make([]cdrJSON, r.IntN(4))
		}
		for i := range l.Items {
			it := cdrJSON{ID: r.Int64(), TenantUUID: str(), Start: str(), End: ptr(), Answered: r.IntN(2) == 0,
				Answer: ptr(), Duration: iptr(), CallDirection: str(), DestinationExtension: str(),
				DestinationInternalContext: ptr(), DestinationInternalExtension: ptr(), DestinationLineID: iptr(),
				DestinationName: str(), DestinationUserUUID: ptr(), RequestedName: str(), RequestedContext: str(),
				RequestedExtension: str(), RequestedInternalContext: ptr(), RequestedInternalExtension: ptr(),
				SourceExtension: str(), SourceInternalContext: ptr(), SourceInternalExtension: ptr(),
				SourceLineID: iptr(), SourceName: str(), SourceUserUUID: ptr()}
			if r.IntN(5) > 0 {
				it.Tags = []string{}
				for range r.IntN(3) {
					it.Tags = append(it.Tags, str())
				}
			}
			if r.IntN(5) > 0 {
				it.Recordings = []recordingJSON{}
				for range r.IntN(3) {
					it.Recordings = append(it.Recordings, recordingJSON{UUID: str(), StartTime: str(), EndTime: ptr(),
						Deleted: r.IntN(2) == 0, Filename: str()})
				}
			}
			l.Items[i] = it
		}
		l.Total, l.Filtered = r.IntN(1<<40)-1<<39, r.IntN(1000)
		return l
	}
	for n := range 20000 {
		l := page()
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(l); err != nil {
			t.Fatal(err)
		}
		got := append(appendCDRList(nil, &l), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("page %d:\n got %q\nwant %q", n, got, want.Bytes())
		}
	}
	// Every single byte and every rune boundary case on its own.
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
