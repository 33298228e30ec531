package store

import (
	"context"
	"strconv"
	"time"
)

// StatsScope is whose recordings the dashboard counts.
type StatsScope struct {
	Tenant string // "" = every tenant (a system token without Wazo-Tenant)
	User   string // "" = everybody's; else the calls the user is a party of
}

// where is the scope's condition on recordings r (joined to their calls c
// when a user is named).
func (sc StatsScope) where() (join string, conds []string, args []any) {
	if sc.Tenant != "" {
		conds, args = append(conds, "r.tenant_uuid = ?"), append(args, sc.Tenant)
	}
	if sc.User != "" {
		join = " JOIN calls c ON c.id = r.call_id"
		conds, args = append(conds, "(c.source_user_uuid = ? OR c.destination_user_uuid = ?)"), append(args, sc.User, sc.User)
	}
	return join, conds, args
}

// DayCount is one UTC day's recordings.
type DayCount struct {
	Day     time.Time // 00:00 UTC
	Count   int
	Seconds float64 // recorded audio, as the index holds it
}

const dayMicros = int64(24 * time.Hour / time.Microsecond)

// RecordingsPerDay counts the recordings that started in [from, until), by
// UTC day, oldest first, in one query over recordings_tenant_start; days
// without any are absent. A recording deleted since counts (it was made);
// a failed one does not (there never was any audio).
func (s *Store) RecordingsPerDay(ctx context.Context, sc StatsScope, from, until time.Time) ([]DayCount, error) {
	query, args := recordingsPerDaySQL(sc, from, until)
	scan := func(row interface{ Scan(...any) error }) (DayCount, error) {
		var day, ms int64
		var d DayCount
		if err := row.Scan(&day, &d.Count, &ms); err != nil {
			return DayCount{}, err
		}
		d.Day, d.Seconds = fromMicros(day*dayMicros), float64(ms)/1000
		return d, nil
	}
	return queryList(ctx, s.r, "recordings per day", scan, query, args...)
}

func recordingsPerDaySQL(sc StatsScope, from, until time.Time) (string, []any) {
	join, conds, args := sc.where()
	conds = append(conds, "r.start_at >= ?", "r.start_at < ?", "r.state <> 'failed'")
	args = append(args, micros(from), micros(until))
	return `SELECT r.start_at / ` + strconv.FormatInt(dayMicros, 10) + ` AS day, count(*), coalesce(sum(r.duration_ms), 0)
		FROM recordings r` + join + whereClause(conds) + ` GROUP BY day ORDER BY day`, args
}

// RecordingBytes is the size of the scope's recordings still kept (not
// deleted), as the index holds them: the dashboard's "used", without a walk
// of the disk.
func (s *Store) RecordingBytes(ctx context.Context, sc StatsScope) (int64, error) {
	join, conds, args := sc.where()
	conds = append(conds, "r.deleted = 0")
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(sum(r.size), 0) FROM recordings r`+join+whereClause(conds),
		args...).Scan(&n)
	return n, classify("recording bytes", err)
}
