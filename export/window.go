package export

import (
	"fmt"
	"strings"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/robfig/cron/v3"
)

// Windows a schedule's run exports, relative to its fire time.
var Windows = []string{store.PeriodPreviousDay, store.PeriodPreviousWeek, store.PeriodPreviousMonth}

// ParseCron reads a schedule's expression: five fields or a descriptor
// (@daily, @weekly, @monthly, @every 1h, …). It runs in the tenant's
// timezone, so a TZ= or CRON_TZ= prefix is refused rather than silently
// overriding it.
func ParseCron(expr string) (cron.Schedule, error) {
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ=") {
		return nil, fmt.Errorf("no TZ= prefix: a schedule runs in its tenant's timezone")
	}
	if e == "" {
		return nil, fmt.Errorf("is required")
	}
	return cron.ParseStandard(e)
}

// Window is the span [from, until) a run fired at fire exports, in loc:
//   - previous_day: yesterday 00:00 → today 00:00
//   - previous_week: Monday 00:00 of last week → Monday 00:00 of this week
//   - previous_month: the 1st of last month 00:00 → the 1st of this month
//
// Midnights are computed with time.Date in loc, so a day across a DST
// change is 23 or 25 hours long, as the wall clock says.
func Window(window string, fire time.Time, loc *time.Location) (from, until time.Time, err error) {
	t := fire.In(loc)
	y, m, d := t.Date()
	switch window {
	case store.PeriodPreviousDay:
		return time.Date(y, m, d-1, 0, 0, 0, 0, loc), time.Date(y, m, d, 0, 0, 0, 0, loc), nil
	case store.PeriodPreviousWeek:
		// Days since Monday: Monday 0 … Sunday 6.
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back-7, 0, 0, 0, 0, loc), time.Date(y, m, d-back, 0, 0, 0, 0, loc), nil
	case store.PeriodPreviousMonth:
		return time.Date(y, m-1, 1, 0, 0, 0, 0, loc), time.Date(y, m, 1, 0, 0, 0, 0, loc), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("window %q: must be previous_day, previous_week or previous_month", window)
}

// maxCatchUpSteps bounds the walk over fire times missed while callrecd
// was down (an @every 1m schedule down for a year is 525,600 of them).
const maxCatchUpSteps = 1 << 20

// latestFire is the last fire time of spec after base and at or before now,
// in loc; ok is false when there is none. Only the latest counts: a run
// missed while down runs once, not once per missed fire time.
func latestFire(spec cron.Schedule, base, now time.Time, loc *time.Location) (time.Time, bool) {
	var last time.Time
	found := false
	t := spec.Next(base.In(loc))
	for i := 0; i < maxCatchUpSteps && !t.IsZero() && !t.After(now); i++ {
		last, found = t, true
		t = spec.Next(t)
	}
	return last, found
}
