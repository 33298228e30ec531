package media

import (
	"context"
	"errors"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// ErrAlreadyIndexed means AdoptRecording found a row with that recording
// uuid (possibly in another tenant); nothing was written.
var ErrAlreadyIndexed = errors.New("media: recording already indexed")

// Indexed is what the index knows of one recording's file.
type Indexed struct {
	UUID     string
	Tenant   string
	CallID   int64
	Start    time.Time
	End      time.Time // zero while live
	Filename string    // base name in <root>/tenants/<tenant>/monitor
	Format   recording.Format
	Size     int64
	SHA256   string // "" until the file was placed and hashed
	Duration time.Duration
	State    recording.State
	Deleted  bool
}

// IndexQuery pages through one tenant's recordings in uuid order.
type IndexQuery struct {
	Tenant        string
	After         string    // keyset: uuids greater than this
	Limit         int       // > 0
	StartedBefore time.Time // zero: any start
	SkipDeleted   bool
	SkipLive      bool // leave out pending, recording and paused rows
}

// Adoption is a file found in the layout without a row.
type Adoption struct {
	Tenant   string
	UUID     string
	CallID   int64 // the call id the name carries: reused if the tenant has it, else created
	Start    time.Time
	Filename string
	Format   recording.Format
	Size     int64
	SHA256   string
	Duration time.Duration
	State    recording.State // StateStopped, or StateCorrupt when the content does not decode
}

// IndexedFile is what reindex learned of a row's file: its name (which may
// change when a transcode finished but was never recorded), facts, and the
// resulting state.
type IndexedFile struct {
	Filename string
	Format   recording.Format
	Size     int64
	SHA256   string
	Duration time.Duration
	State    recording.State
}

// Index is what reindex needs of the recordings index. store.Store
// implements it; another index (PostgreSQL) is another implementation.
type Index interface {
	// IndexedTenants lists every tenant the index knows.
	IndexedTenants(ctx context.Context) ([]string, error)
	// IndexedRecordings returns one page of a tenant's recordings.
	IndexedRecordings(ctx context.Context, q IndexQuery) ([]Indexed, error)
	// AdoptRecording creates the row of a file that has none (and a
	// placeholder call with exactly a.CallID if the tenant has no such call),
	// all or nothing. ErrAlreadyIndexed if the uuid has a row.
	AdoptRecording(ctx context.Context, a Adoption) error
	// UpdateIndexedFile rewrites a row's file facts and state.
	UpdateIndexedFile(ctx context.Context, uuid string, f IndexedFile) error
	// SetRecordingIntegrity sets a row's state (missing, corrupt, stopped).
	SetRecordingIntegrity(ctx context.Context, uuid string, state recording.State) error
}

// TenantRetention is a tenant's recording retention.
type TenantRetention struct {
	Tenant string
	Days   int // > 0
}

// Retirement is a recording retention removed: the row is flagged deleted
// and an audit entry written, together.
type Retirement struct {
	Tenant  string
	UUID    string
	At      time.Time
	Actor   string
	Details map[string]any
}

// RetentionIndex is what the retention job needs of the index.
type RetentionIndex interface {
	// RecordingRetention lists the tenants that keep recordings for a
	// limited number of days.
	RecordingRetention(ctx context.Context) ([]TenantRetention, error)
	IndexedRecordings(ctx context.Context, q IndexQuery) ([]Indexed, error)
	// RetireRecording flags the row deleted and appends the audit entry in
	// one transaction. Retiring an already deleted row changes nothing.
	RetireRecording(ctx context.Context, r Retirement) error
}
