package export

import (
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Windows are wall-clock midnights in the tenant's zone: across DST the
// span is 23 or 25 hours (a week 167 or 169), and year ends roll over.
func TestWindowArithmetic(t *testing.T) {
	paris, ny := mustLoc(t, "Europe/Paris"), mustLoc(t, "America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, tc := range []struct {
		name        string
		window      string
		fire        time.Time
		from, until time.Time
		hours       float64
	}{
		{"week, plain", store.PeriodPreviousWeek, at(paris, 2024, 5, 13, 1, 22), at(paris, 2024, 5, 6, 0, 0), at(paris, 2024, 5, 13, 0, 0), 168},
		{"week across the year end", store.PeriodPreviousWeek, at(paris, 2025, 1, 6, 1, 22), at(paris, 2024, 12, 30, 0, 0), at(paris, 2025, 1, 6, 0, 0), 168},
		{"week fired on a Sunday", store.PeriodPreviousWeek, at(paris, 2024, 5, 19, 23, 0), at(paris, 2024, 5, 6, 0, 0), at(paris, 2024, 5, 13, 0, 0), 168},
		{"week with spring forward (Paris, 31 March)", store.PeriodPreviousWeek, at(paris, 2024, 4, 1, 1, 22), at(paris, 2024, 3, 25, 0, 0), at(paris, 2024, 4, 1, 0, 0), 167},
		{"week with fall back (New York, 3 November)", store.PeriodPreviousWeek, at(ny, 2024, 11, 4, 1, 22), at(ny, 2024, 10, 28, 0, 0), at(ny, 2024, 11, 4, 0, 0), 169},
		{"day across the year end", store.PeriodPreviousDay, at(paris, 2025, 1, 1, 0, 30), at(paris, 2024, 12, 31, 0, 0), at(paris, 2025, 1, 1, 0, 0), 24},
		{"day of spring forward (New York)", store.PeriodPreviousDay, at(ny, 2024, 3, 11, 6, 0), at(ny, 2024, 3, 10, 0, 0), at(ny, 2024, 3, 11, 0, 0), 23},
		{"day of fall back (Paris)", store.PeriodPreviousDay, at(paris, 2024, 10, 28, 2, 0), at(paris, 2024, 10, 27, 0, 0), at(paris, 2024, 10, 28, 0, 0), 25},
		{"month across the year end", store.PeriodPreviousMonth, at(paris, 2025, 1, 1, 3, 0), at(paris, 2024, 12, 1, 0, 0), at(paris, 2025, 1, 1, 0, 0), 31 * 24},
		{"leap February", store.PeriodPreviousMonth, at(ny, 2024, 3, 15, 12, 0), at(ny, 2024, 2, 1, 0, 0), at(ny, 2024, 3, 1, 0, 0), 29 * 24},
		{"month with spring forward (Paris, March)", store.PeriodPreviousMonth, at(paris, 2024, 4, 1, 0, 5), at(paris, 2024, 3, 1, 0, 0), at(paris, 2024, 4, 1, 0, 0), 31*24 - 1},
		// The fire time is read in the tenant's zone, not in UTC: Monday
		// 00:30 in Paris is still Sunday in UTC.
		{"UTC fire time read in the zone", store.PeriodPreviousWeek, time.Date(2024, 5, 12, 22, 30, 0, 0, time.UTC), at(paris, 2024, 5, 6, 0, 0), at(paris, 2024, 5, 13, 0, 0), 168},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.from.Location()
			from, until, err := Window(tc.window, tc.fire, loc)
			if err != nil {
				t.Fatal(err)
			}
			if !from.Equal(tc.from) || !until.Equal(tc.until) {
				t.Fatalf("window %s .. %s, want %s .. %s", from, until, tc.from, tc.until)
			}
			if h := until.Sub(from).Hours(); h != tc.hours {
				t.Fatalf("%v hours, want %v", h, tc.hours)
			}
		})
	}
	if _, _, err := Window("previous_year", time.Now(), time.UTC); err == nil {
		t.Fatal("unknown window accepted")
	}
}

// The seed's crontab line, "22 1 * * 1", in the tenant's zone: it fires on
// Monday 01:22 local and exports the Monday-to-Monday week before.
func TestSeedCronExportsThePreviousMondayToMondayWeek(t *testing.T) {
	for _, zone := range []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"} {
		loc := mustLoc(t, zone)
		spec, err := ParseCron("22 1 * * 1")
		if err != nil {
			t.Fatal(err)
		}
		// From a Wednesday, the next fire is the coming Monday 01:22 local.
		fire := spec.Next(time.Date(2024, 12, 25, 10, 0, 0, 0, loc))
		if want := time.Date(2024, 12, 30, 1, 22, 0, 0, loc); !fire.Equal(want) {
			t.Fatalf("%s: fires %s, want %s", zone, fire, want)
		}
		from, until, err := Window(store.PeriodPreviousWeek, fire, loc)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2024, 12, 23, 0, 0, 0, 0, loc); !from.Equal(want) || from.Weekday() != time.Monday {
			t.Fatalf("%s: from %s, want %s", zone, from, want)
		}
		if want := time.Date(2024, 12, 30, 0, 0, 0, 0, loc); !until.Equal(want) || until.Weekday() != time.Monday {
			t.Fatalf("%s: until %s, want %s", zone, until, want)
		}
	}
}

func TestParseCron(t *testing.T) {
	for _, ok := range []string{"22 1 * * 1", "@weekly", "@daily", "@monthly", "@every 1h", "0 0 1 * *"} {
		if _, err := ParseCron(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "22 1 * *", "61 1 * * 1", "@fortnightly", "TZ=UTC 22 1 * * 1", "CRON_TZ=Europe/Paris @daily", "* * * * * *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Down for three weeks: the catch-up is the latest missed Monday, once.
func TestLatestFireCatchesUpOnce(t *testing.T) {
	loc := mustLoc(t, "Europe/Paris")
	spec, _ := ParseCron("22 1 * * 1")
	last := time.Date(2024, 5, 6, 1, 22, 0, 0, loc)
	now := time.Date(2024, 5, 29, 9, 0, 0, 0, loc) // a Wednesday, three Mondays later
	fire, ok := latestFire(spec, last, now, loc)
	if !ok || !fire.Equal(time.Date(2024, 5, 27, 1, 22, 0, 0, loc)) {
		t.Fatalf("catch-up %s %v", fire, ok)
	}
	// Once that run is recorded as the last, nothing is due until next Monday.
	if f, ok := latestFire(spec, fire, now, loc); ok {
		t.Fatalf("due again at %s", f)
	}
	// Exactly at the fire time it is due.
	if f, ok := latestFire(spec, fire, time.Date(2024, 6, 3, 1, 22, 0, 0, loc), loc); !ok || f.Day() != 3 {
		t.Fatalf("at the fire time: %s %v", f, ok)
	}
}
