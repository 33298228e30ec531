package store

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// ForEngine is the store as the engine and its executor see it: the
// engine's Settings (policy reads) and Index (the rows a Snapshot is
// reconciled with), and the executor's Records (CDR and recording rows, the
// *26 write).
//
// The engine reads settings on every call set-up, membership change and DTMF
// digit, with its lock held. Those reads are served from a cache that is
// valid while settings_version (moved by triggers on every settings table,
// whichever process writes) stays the same: one tiny query instead of a
// tenant, its feature codes, a user and a group each time.
type ForEngine struct{ S *Store }

// settingsCache holds what the engine read at one settings_version.
type settingsCache struct {
	mu       sync.Mutex
	version  int64
	policies map[string]engine.TenantPolicy
	users    map[[2]string]cachedUser
	groups   map[[3]string]cachedGroup
}

type cachedUser struct {
	user  engine.User
	found bool
}

type cachedGroup struct {
	group engine.Group
	found bool
}

func newSettingsCache() *settingsCache {
	return &settingsCache{version: -1}
}

// at returns the cache for settings version v, emptied if v moved on. The
// caller holds c.mu.
func (c *settingsCache) at(v int64) *settingsCache {
	if c.version != v || c.policies == nil {
		c.version = v
		c.policies = map[string]engine.TenantPolicy{}
		c.users = map[[2]string]cachedUser{}
		c.groups = map[[3]string]cachedGroup{}
	}
	return c
}

// settingsVersion reads the counter the settings triggers move.
func (s *Store) settingsVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT version FROM settings_version WHERE id = 1`).Scan(&v)
	return v, classify("settings version", err)
}

// cached looks key up in the cache valid at the current settings version,
// or loads it and keeps it. Inside a transaction nothing is cached: the
// transaction may see rows no one else sees yet.
func cached[K comparable, V any](ctx context.Context, s *Store, pick func(*settingsCache) map[K]V, key K,
	load func() (V, error)) (V, error) {
	if s.inTx || s.settings == nil {
		return load()
	}
	v, err := s.settingsVersion(ctx)
	if err != nil {
		return load()
	}
	c := s.settings
	c.mu.Lock()
	val, ok := pick(c.at(v))[key]
	c.mu.Unlock()
	if ok {
		return val, nil
	}
	val, err = load()
	if err != nil {
		return val, err
	}
	c.mu.Lock()
	if c.version == v {
		pick(c)[key] = val
	}
	c.mu.Unlock()
	return val, nil
}

var (
	_ engine.Settings = ForEngine{}
	_ engine.Index    = ForEngine{}
)

// TenantPolicy reads a tenant's settings and feature codes; a tenant nobody
// registered gets the engine's defaults.
func (f ForEngine) TenantPolicy(ctx context.Context, tenant string) (engine.TenantPolicy, error) {
	return cached(ctx, f.S, func(c *settingsCache) map[string]engine.TenantPolicy { return c.policies }, tenant,
		func() (engine.TenantPolicy, error) { return f.loadTenantPolicy(ctx, tenant) })
}

func (f ForEngine) loadTenantPolicy(ctx context.Context, tenant string) (engine.TenantPolicy, error) {
	t, err := f.S.GetTenant(ctx, tenant)
	if isNotFound(err) {
		return engine.DefaultTenantPolicy(), nil
	}
	if err != nil {
		return engine.TenantPolicy{}, err
	}
	features, err := f.S.ListFeatureExtensions(ctx, tenant, "")
	if err != nil {
		return engine.TenantPolicy{}, err
	}
	p := engine.TenantPolicy{
		AudioRecordingEnabled:    t.AudioRecordingEnabled,
		RecordExternalToExternal: t.RecordExternalToExternal,
		OnlineRecordMode:         recording.OnlineRecordMode(t.OnlineRecordMode),
		Announcements:            t.AnnounceRecording,
		DTMFTimeout:              t.DTMFTimeout,
		Format:                   recording.Format(t.Format),
	}
	for _, fe := range features {
		code := engine.FeatureCode{Code: fe.Exten, Enabled: fe.Enabled}
		switch recording.Feature(fe.Feature) {
		case recording.FeatureCallRecord:
			p.Features.CallRecord = code
		case recording.FeatureOnlineRecord:
			p.Features.OnlineRecord = code
		case recording.FeaturePause:
			p.Features.Pause = code
		case recording.FeatureResume:
			p.Features.Resume = code
		}
	}
	return p, nil
}

// UserByEndpoint finds the user of a PBX endpoint.
func (f ForEngine) UserByEndpoint(ctx context.Context, tenant, endpoint string) (engine.User, bool, error) {
	e, err := cached(ctx, f.S, func(c *settingsCache) map[[2]string]cachedUser { return c.users }, [2]string{tenant, endpoint},
		func() (cachedUser, error) { return f.loadUser(ctx, tenant, endpoint) })
	return e.user, e.found, err
}

func (f ForEngine) loadUser(ctx context.Context, tenant, endpoint string) (cachedUser, error) {
	u, err := f.S.UserByEndpoint(ctx, tenant, endpoint)
	if isNotFound(err) {
		return cachedUser{}, nil
	}
	if err != nil {
		return cachedUser{}, err
	}
	return cachedUser{found: true, user: engine.User{
		UUID: u.UUID, Extension: u.Extension, Name: u.Name(),
		CallRecordOutgoingInternal: u.CallRecordOutgoingInternalEnabled,
		CallRecordOutgoingExternal: u.CallRecordOutgoingExternalEnabled,
		CallRecordIncomingInternal: u.CallRecordIncomingInternalEnabled,
		CallRecordIncomingExternal: u.CallRecordIncomingExternalEnabled,
		OnlineCallRecordEnabled:    u.OnlineCallRecordEnabled,
	}}, nil
}

// Group finds a ring group or queue by the name the PBX uses.
func (f ForEngine) Group(ctx context.Context, tenant string, kind engine.GroupKind, name string) (engine.Group, bool, error) {
	e, err := cached(ctx, f.S, func(c *settingsCache) map[[3]string]cachedGroup { return c.groups },
		[3]string{tenant, string(kind), name}, func() (cachedGroup, error) {
			g, err := f.S.GroupByName(ctx, tenant, string(kind), name)
			if isNotFound(err) {
				return cachedGroup{}, nil
			}
			if err != nil {
				return cachedGroup{}, err
			}
			return cachedGroup{found: true, group: engine.Group{UUID: g.UUID, Name: g.Name, DTMFRecordToggle: g.DTMFRecordToggle}}, nil
		})
	return e.group, e.found, err
}

// SetUserAutoRecord is the *26 toggle's write.
func (f ForEngine) SetUserAutoRecord(ctx context.Context, tenant, userUUID string, enabled bool) error {
	if _, err := f.S.GetUser(ctx, tenant, userUUID); err != nil {
		return err
	}
	return f.S.SetUserAutoRecord(ctx, userUUID, enabled)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func valueTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// callFromRow maps the engine's CDR row. Wazo's CDR shows a number as the
// extension of a party that has none (an outside caller).
func callFromRow(row engine.CallRow) Call {
	srcExt, dstExt := row.SourceExtension, row.DestinationExtension
	if srcExt == "" {
		srcExt = row.SourceNumber
	}
	if dstExt == "" {
		dstExt = row.DestinationNumber
	}
	return Call{ID: row.ID, TenantUUID: row.Tenant, PBXCallID: row.PBXCallID, Start: row.Start,
		Answer: optTime(row.Answer), End: optTime(row.End), Direction: string(row.Direction),
		SourceExtension: srcExt, SourceName: row.SourceName, SourceUserUUID: row.SourceUserUUID,
		DestinationExtension: dstExt, DestinationName: row.DestinationName,
		DestinationUserUUID: row.DestinationUserUUID, RequestedExtension: cmp.Or(row.RequestedNumber, row.DestinationNumber)}
}

// CreateCall inserts the CDR row (or finds the one a replayed event made).
func (f ForEngine) CreateCall(ctx context.Context, row engine.CallRow) (int64, error) {
	c, err := f.S.CreateCall(ctx, callFromRow(row))
	return c.ID, err
}

// UpdateCall writes the engine's view of the call; tags stay as they are.
func (f ForEngine) UpdateCall(ctx context.Context, row engine.CallRow) error {
	return f.S.UpdateCall(ctx, callFromRow(row))
}

func recordingFromRow(row engine.RecordingRow) Recording {
	r := Recording{UUID: row.UUID, CallID: row.CallID, TenantUUID: row.Tenant, Start: row.Start,
		End: optTime(row.End), Filename: row.Filename, Format: string(row.Format), State: string(row.State),
		StartedBy: string(row.StartedBy), StopReason: string(row.StopReason), FailureReason: row.FailureReason,
		PausedIntervals: make([]Interval, len(row.Paused))}
	for i, p := range row.Paused {
		r.PausedIntervals[i] = Interval{Start: p.Start, End: optTime(p.End)}
	}
	return r
}

// CreateRecording inserts a recording row.
func (f ForEngine) CreateRecording(ctx context.Context, row engine.RecordingRow) error {
	return f.S.CreateRecording(ctx, recordingFromRow(row))
}

// UpdateRecording writes a recording's state, end, pauses and reasons.
func (f ForEngine) UpdateRecording(ctx context.Context, row engine.RecordingRow) error {
	return f.S.UpdateRecordingState(ctx, recordingFromRow(row))
}

// FindRecording finds a recording row by uuid (to adopt a live recording).
func (f ForEngine) FindRecording(ctx context.Context, uuid string) (engine.RecordingRow, bool, error) {
	r, err := f.S.GetRecording(ctx, "", uuid)
	if isNotFound(err) {
		return engine.RecordingRow{}, false, nil
	}
	if err != nil {
		return engine.RecordingRow{}, false, err
	}
	return engineRecording(r), true, nil
}

// engineRecording is a recording row as the engine sees it.
func engineRecording(r Recording) engine.RecordingRow {
	row := engine.RecordingRow{UUID: r.UUID, CallID: r.CallID, Tenant: r.TenantUUID, Start: r.Start,
		End: valueTime(r.End), Filename: r.Filename, Format: recording.Format(r.Format), State: recording.State(r.State),
		StartedBy: recording.StartedBy(r.StartedBy), StopReason: recording.StopReason(r.StopReason),
		FailureReason: r.FailureReason}
	for _, p := range r.PausedIntervals {
		row.Paused = append(row.Paused, engine.Interval{Start: p.Start, End: valueTime(p.End)})
	}
	return row
}
