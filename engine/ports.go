package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Prompt names a sound the PBX plays. Adapters map it to a file
// (Asterisk "sound:…", FreeSWITCH path).
type Prompt string

// Prompts the engine plays.
const (
	PromptRecordingStarted Prompt = "recording-started"
	PromptRecordingPaused  Prompt = "recording-paused"
	PromptRecordingResumed Prompt = "recording-resumed"
	PromptRecordingStopped Prompt = "recording-stopped"
	PromptDenied           Prompt = "recording-denied" // *3/*48/*49 not allowed
	PromptActivated        Prompt = "callrecord-activated"
	PromptDeactivated      Prompt = "callrecord-deactivated"
)

// PBX is what the engine asks of a PBX. Adapters implement it. Methods are
// called with the engine's lock held and in order: queue, do not block on
// the PBX's reply. See the package documentation.
type PBX interface {
	// StartRecording records channelID (both directions) under name (the
	// recording uuid, chosen by the engine) in format ("wav", …). If a
	// stored recording of that name exists, the new part is appended (the
	// engine re-arms a recording on another leg this way). The handle is
	// what Pause/Resume/Stop get; "" means "use name".
	StartRecording(ctx context.Context, channelID, name, format string) (handle string, err error)
	PauseRecording(ctx context.Context, handle string) error
	ResumeRecording(ctx context.Context, handle string) error
	StopRecording(ctx context.Context, handle string) error
	// Play plays prompt to each channel (one party, or all parties of a call).
	Play(ctx context.Context, channelIDs []string, prompt Prompt) error
	// Hangup hangs channelID up.
	Hangup(ctx context.Context, channelID string) error
}

// Clock gives the time for actions that are not PBX events (REST, SIP).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// StarMode is what *3 does to a running recording.
type StarMode string

// *3 modes.
const (
	StarPause StarMode = "pause" // Wazo: start → pause → resume → pause …
	StarStop  StarMode = "stop"  // start → stop → start (a new recording) …
)

// Feature names (the keys of Wazo's extension features).
const (
	FeatureCallRecord   = "callrecord"   // *26: toggle own automatic recording
	FeatureOnlineRecord = "onlinerecord" // *3: toggle recording in call
	FeaturePause        = "pauserecord"  // *48
	FeatureResume       = "resumerecord" // *49
)

// FeatureCode is one tenant feature extension.
type FeatureCode struct {
	Code    string // e.g. "*3"; "" means the default code
	Enabled bool
}

// Features are a tenant's recording feature codes.
type Features struct {
	CallRecord   FeatureCode // *26
	OnlineRecord FeatureCode // *3
	Pause        FeatureCode // *48
	Resume       FeatureCode // *49
}

// TenantPolicy is a tenant's recording settings.
type TenantPolicy struct {
	AudioRecordingEnabled    bool
	RecordExternalToExternal bool          // default false: stop on ext↔ext
	StarMode                 StarMode      // "" = StarPause
	Announcements            bool          // play started/paused/... prompts
	DTMFTimeout              time.Duration // inter-digit timeout; 0 = 3 s
	Format                   string        // "" = "wav"
	Features                 Features
}

// DefaultTenantPolicy is the policy of a tenant nobody has configured:
// recording enabled, Wazo's *3 behaviour, all feature codes on with their
// default extensions, no announcements, ext↔ext calls not recorded.
func DefaultTenantPolicy() TenantPolicy {
	return TenantPolicy{
		AudioRecordingEnabled: true,
		StarMode:              StarPause,
		DTMFTimeout:           3 * time.Second,
		Format:                "wav",
		Features: Features{
			CallRecord:   FeatureCode{Code: "*26", Enabled: true},
			OnlineRecord: FeatureCode{Code: "*3", Enabled: true},
			Pause:        FeatureCode{Code: "*48", Enabled: true},
			Resume:       FeatureCode{Code: "*49", Enabled: true},
		},
	}
}

func (p TenantPolicy) normalized() TenantPolicy {
	if p.StarMode != StarStop {
		p.StarMode = StarPause
	}
	if p.DTMFTimeout <= 0 {
		p.DTMFTimeout = 3 * time.Second
	}
	if p.Format == "" {
		p.Format = "wav"
	}
	def := DefaultTenantPolicy().Features
	if p.Features.CallRecord.Code == "" {
		p.Features.CallRecord.Code = def.CallRecord.Code
	}
	if p.Features.OnlineRecord.Code == "" {
		p.Features.OnlineRecord.Code = def.OnlineRecord.Code
	}
	if p.Features.Pause.Code == "" {
		p.Features.Pause.Code = def.Pause.Code
	}
	if p.Features.Resume.Code == "" {
		p.Features.Resume.Code = def.Resume.Code
	}
	return p
}

// User is an internal user as the engine needs it.
type User struct {
	UUID                       string
	Extension                  string
	Name                       string
	CallRecordOutgoingInternal bool // call_record_outgoing_internal_enabled
	CallRecordOutgoingExternal bool // call_record_outgoing_external_enabled
	CallRecordIncomingInternal bool // call_record_incoming_internal_enabled
	CallRecordIncomingExternal bool // call_record_incoming_external_enabled
	OnlineCallRecordEnabled    bool // online_call_record_enabled (*3)
}

func (u *User) anyAutoRecord() bool {
	return u.CallRecordOutgoingInternal || u.CallRecordOutgoingExternal ||
		u.CallRecordIncomingInternal || u.CallRecordIncomingExternal
}

// GroupKind says whether a Group is a ring group or a queue.
type GroupKind string

// Group kinds.
const (
	KindGroup GroupKind = "group"
	KindQueue GroupKind = "queue"
)

// Group is a ring group or a queue as the engine needs it.
type Group struct {
	UUID             string
	Name             string
	DTMFRecordToggle bool // dtmf_record_toggle: overrides the callee's *3 right
}

// Settings is read access to configuration, plus the one write *26 needs.
// Implemented by store; reads should be cheap (they happen on call set-up
// and per DTMF digit) — cache if needed.
type Settings interface {
	// TenantPolicy returns the tenant's policy (DefaultTenantPolicy for a
	// tenant without settings).
	TenantPolicy(ctx context.Context, tenant string) (TenantPolicy, error)
	// UserByEndpoint finds the user owning an endpoint of the tenant.
	UserByEndpoint(ctx context.Context, tenant, endpoint string) (User, bool, error)
	// Group finds a ring group or queue of the tenant by name.
	Group(ctx context.Context, tenant string, kind GroupKind, name string) (Group, bool, error)
	// SetUserAutoRecord sets the user's four call_record_*_enabled flags.
	SetUserAutoRecord(ctx context.Context, tenant, userUUID string, enabled bool) error
}

// Direction of a call (CDR call_direction).
type Direction string

// Directions. A call between two external parties (trunk to trunk) is
// inbound.
const (
	DirInternal Direction = "internal"
	DirInbound  Direction = "inbound"
	DirOutbound Direction = "outbound"
)

// CallRow is a call's CDR row.
type CallRow struct {
	ID                   int64 // set by Records.CreateCall
	Tenant               string
	PBXCallID            string
	Start                time.Time
	Answer               time.Time // zero: not answered
	End                  time.Time // zero: still running
	Direction            Direction
	SourceNumber         string
	SourceName           string
	SourceUserUUID       string
	SourceExtension      string
	DestinationNumber    string
	DestinationName      string
	DestinationUserUUID  string
	DestinationExtension string
}

// RecState is a recording's state.
type RecState string

// Recording states.
const (
	StateRecording RecState = "recording"
	StatePaused    RecState = "paused"
	StateStopped   RecState = "stopped"
	StateFailed    RecState = "failed"
)

func (s RecState) active() bool { return s == StateRecording || s == StatePaused }

// StartedBy says who started a recording.
type StartedBy string

// Starters.
const (
	ByPolicy     StartedBy = "policy"
	ByDTMF       StartedBy = "dtmf"
	ByAPI        StartedBy = "api"
	BySIPMessage StartedBy = "sip_message"
)

// StopReason says why a recording stopped.
type StopReason string

// Stop reasons.
const (
	StopHangup             StopReason = "hangup"
	StopDTMF               StopReason = "dtmf"
	StopAPI                StopReason = "api"
	StopExternalToExternal StopReason = "external_to_external"
	StopPBXLost            StopReason = "pbx_lost"
)

// Interval is a paused span; End is zero while still paused.
type Interval struct {
	Start time.Time
	End   time.Time
}

// RecordingRow is a recording's row.
type RecordingRow struct {
	UUID          string
	CallID        int64
	Tenant        string
	Start         time.Time
	End           time.Time // zero while active
	Filename      string
	Format        string
	State         RecState
	StartedBy     StartedBy
	StopReason    StopReason // set when State is stopped
	FailureReason string     // set when State is failed
	Paused        []Interval
}

// Records is where the engine writes calls and recordings (and, after a
// restart, finds them again). Implemented by store. Update* write the whole
// row (idempotent). Errors are logged; the engine goes on.
type Records interface {
	CreateCall(ctx context.Context, row CallRow) (id int64, err error)
	UpdateCall(ctx context.Context, row CallRow) error
	CreateRecording(ctx context.Context, row RecordingRow) error
	UpdateRecording(ctx context.Context, row RecordingRow) error
	// FindCall finds the still-open (End zero) call row with this PBX call id;
	// used when a snapshot shows calls a fresh engine does not know.
	FindCall(ctx context.Context, tenant, pbxCallID string) (CallRow, bool, error)
	// FindRecording finds a recording row by uuid; used to adopt recordings
	// a snapshot reports live.
	FindRecording(ctx context.Context, uuid string) (RecordingRow, bool, error)
}

// Errors of the request methods; test with errors.Is.
var (
	ErrNoSuchCall = errors.New("engine: no such call")
	ErrNotAllowed = errors.New("engine: not allowed")
	ErrWrongState = errors.New("engine: wrong recording state")
)

// Filename is a recording's file name, as Wazo names them:
// 2021-05-14T17_47_16UTC-<call id>-<recording uuid>.<ext> (UTC start time,
// whole seconds).
func Filename(start time.Time, callID int64, recordingUUID, format string) string {
	if format == "" {
		format = "wav"
	}
	return fmt.Sprintf("%sUTC-%d-%s.%s", start.UTC().Format("2006-01-02T15_04_05"), callID, recordingUUID, format)
}

// OpenCall is a call row the index holds open, with the latest time the
// call is known to have been going (Seen).
type OpenCall struct {
	Row  CallRow
	Seen time.Time
}

// OpenRecording is a recording row the index holds active, with the latest
// time it is known to have been running (Seen: e.g. the last write to its
// file).
type OpenRecording struct {
	Row  RecordingRow
	Seen time.Time
}

// OpenRows is optionally implemented by Records: the rows the index holds
// open. At its first snapshot the engine closes those it does not hold (a
// previous run ended before the call did, and the call ended while nobody
// listened): recordings stopped with stop_reason pbx_lost, calls ended, both
// at the best known time (Seen, never after the snapshot).
type OpenRows interface {
	OpenCalls(ctx context.Context) ([]OpenCall, error)
	OpenRecordings(ctx context.Context) ([]OpenRecording, error)
}
