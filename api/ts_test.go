package api

import (
	"math/rand/v2"
	"testing"
	"time"
)

// ts writes its digits itself; it must match time.Format byte for byte.
func TestTSMatchesTimeFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		if got, want := ts(tm), tm.UTC().Format(tsLayout); got != want {
			t.Fatalf("ts(%v) = %q, want %q", tm, got, want)
		}
	}
	paris := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 1, 0, 30, 0, 1000, paris), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(5, 6, 7, 8, 9, 10, 11000, time.UTC)} {
		check(tm)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(time.UnixMicro(r.Int64N(300*365*24*3600*1e6) - 50*365*24*3600*1e6).Add(time.Duration(r.IntN(1000))))
	}
}
