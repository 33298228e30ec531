package ari

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSnoopID: parseSnoopID ("callrecd-<name>-<part>", SnoopPrefix),
// by which a re-sync tells callrecd's snoops and their recordings apart.
// Only its name and signature are relied on (it may move within ari).
//
// Promised: no panic on any id; an accepted id starts with SnoopPrefix, has
// a non-empty name and a part >= 0, and is SnoopPrefix+name+"-"+<part>
// (<part> as strconv.Atoi reads it); what the adapter builds,
// SnoopPrefix+name+"-"+strconv.Itoa(part) for a non-empty name (a recording
// uuid, but any name works: the part is cut at the last '-') and part >= 0,
// parses back to exactly (name, part).
// Seeds: snoop ids of the adapter tests, the real traces' channel ids, and
// the uuid names callrecd gives its recordings.
func FuzzParseSnoopID(f *testing.F) {
	for _, id := range fuzzTraceStrings(f, "id") {
		f.Add(id, 0)
	}
	for _, s := range []string{"callrecd-rec-1-0", "callrecd-rec-9-3", "callrecd-r1-1", "callrecd-live-0",
		"callrecd-0b9b8a3e-5a0c-4b8e-9f2e-0c1d2e3f4a5b-1", "callrecd-0b9b8a3e-5a0c-4b8e-9f2e-0c1d2e3f4a5b-0",
		"callrecd-spare", "callrecd-", "callrecd--1", "callrecd-x-+1", "callrecd-x-01", "callrecd-x-9223372036854775808",
		"callrecd-watchdog-7", "Snoop/pbx-1795288322.4-00000000", ""} {
		f.Add(s, 1)
	}
	f.Add("0b9b8a3e-5a0c-4b8e-9f2e-0c1d2e3f4a5b", 12)
	f.Fuzz(func(t *testing.T, id string, part int) {
		name, n, ok := parseSnoopID(id)
		if ok {
			if name == "" || n < 0 || !strings.HasPrefix(id, SnoopPrefix+name+"-") {
				t.Fatalf("parseSnoopID(%q) = %q, %d, true", id, name, n)
			}
			if m, err := strconv.Atoi(id[len(SnoopPrefix+name+"-"):]); err != nil || m != n {
				t.Fatalf("parseSnoopID(%q) = %q, %d: the part is %q", id, name, n, id[len(SnoopPrefix+name+"-"):])
			}
			canon := SnoopPrefix + name + "-" + strconv.Itoa(n)
			if name2, n2, ok2 := parseSnoopID(canon); !ok2 || name2 != name || n2 != n {
				t.Fatalf("parseSnoopID(%q) = %q, %d, but parseSnoopID(%q) = %q, %d, %v", id, name, n, canon, name2, n2, ok2)
			}
		} else if name != "" || n != 0 {
			t.Fatalf("parseSnoopID(%q) refused but returned %q, %d", id, name, n)
		}
		// The input as a recording name, in the id the adapter gives its
		// snoop for a part.
		if part < 0 {
			part = -(part + 1)
		}
		if id == "" {
			return
		}
		built := SnoopPrefix + id + "-" + strconv.Itoa(part)
		if name, n, ok := parseSnoopID(built); !ok || name != id || n != part {
			t.Fatalf("name %q part %d: parseSnoopID(%q) = %q, %d, %v", id, part, built, name, n, ok)
		}
	})
}
