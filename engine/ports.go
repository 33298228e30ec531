package engine

import (
	"context"
	"errors"
	"time"

	"github.com/callrecd/callrecd/recording"
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

// PBX is what a PBX adapter does for the engine: the executor carries each
// Command out through it. Methods must return at once — queue the work,
// keeping the order of the calls for each recording and channel, and do
// not wait for the PBX's answer: the outcome arrives as an event
// (RecordingStarted, RecordingFailed, …). An error means the command was
// not queued; the executor reports a failed start to the engine as
// RecordingFailed. Recordings are named by the engine (their uuid).
type PBX interface {
	// StartRecording records channelID (both directions) under name in
	// format ("wav", …). If a recording of that name exists, the new part is
	// appended (the engine re-arms a recording on another leg this way).
	StartRecording(ctx context.Context, channelID, name string, format recording.Format) error
	PauseRecording(ctx context.Context, name string) error
	ResumeRecording(ctx context.Context, name string) error
	StopRecording(ctx context.Context, name string) error
	// Play plays prompt to each channel (one party, or all parties of a call).
	Play(ctx context.Context, channelIDs []string, prompt Prompt) error
	// Hangup hangs channelID up.
	Hangup(ctx context.Context, channelID string) error
}

// Clock gives the time for actions that are not PBX events (REST, SIP).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

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
	RecordExternalToExternal bool                       // default false: stop on ext↔ext
	OnlineRecordMode         recording.OnlineRecordMode // what *3 does; "" = pause
	Announcements            bool                       // play started/paused/... prompts
	DTMFTimeout              time.Duration              // inter-digit timeout; 0 = 3 s
	Format                   recording.Format           // "" = WAV
	Features                 Features
}

// DefaultTenantPolicy is the policy of a tenant nobody has configured:
// recording enabled, Wazo's *3 behaviour, all feature codes on with their
// default extensions, no announcements, ext↔ext calls not recorded.
func DefaultTenantPolicy() TenantPolicy {
	return TenantPolicy{
		AudioRecordingEnabled: true,
		OnlineRecordMode:      recording.OnlineRecordPause,
		DTMFTimeout:           3 * time.Second,
		Format:                recording.WAV,
		Features: Features{
			CallRecord:   FeatureCode{Code: recording.DefaultCode(recording.FeatureCallRecord), Enabled: true},
			OnlineRecord: FeatureCode{Code: recording.DefaultCode(recording.FeatureOnlineRecord), Enabled: true},
			Pause:        FeatureCode{Code: recording.DefaultCode(recording.FeaturePause), Enabled: true},
			Resume:       FeatureCode{Code: recording.DefaultCode(recording.FeatureResume), Enabled: true},
		},
	}
}

func (p TenantPolicy) normalized() TenantPolicy {
	if p.OnlineRecordMode != recording.OnlineRecordStop {
		p.OnlineRecordMode = recording.OnlineRecordPause
	}
	if p.DTMFTimeout <= 0 {
		p.DTMFTimeout = 3 * time.Second
	}
	if p.Format == "" {
		p.Format = recording.WAV
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

// Settings is read access to configuration. Implemented by store; reads
// happen with the engine's lock held, on call set-up and per DTMF digit, so
// they must be served from a cache.
type Settings interface {
	// TenantPolicy returns the tenant's policy (DefaultTenantPolicy for a
	// tenant without settings).
	TenantPolicy(ctx context.Context, tenant string) (TenantPolicy, error)
	// UserByEndpoint finds the user owning an endpoint of the tenant.
	UserByEndpoint(ctx context.Context, tenant, endpoint string) (User, bool, error)
	// Group finds a ring group or queue of the tenant by name.
	Group(ctx context.Context, tenant string, kind GroupKind, name string) (Group, bool, error)
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
	ID              int64 // the store's id (0 until CallStored)
	Tenant          string
	PBXCallID       string
	Start           time.Time
	Answer          time.Time // zero: not answered
	End             time.Time // zero: still running
	Direction       Direction
	SourceNumber    string
	SourceName      string
	SourceUserUUID  string
	SourceExtension string
	// RequestedNumber is what the originator dialled (Wazo's requested_*:
	// a ring group's or queue's number, the external number as dialled);
	// DestinationNumber is who answered (destination_*).
	RequestedNumber      string
	DestinationNumber    string
	DestinationName      string
	DestinationUserUUID  string
	DestinationExtension string
}

// The recording's state, who started it and why it stopped are the shared
// words of package recording (recording.State, recording.StartedBy,
// recording.StopReason).

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
	Format        recording.Format
	State         recording.State
	StartedBy     recording.StartedBy
	StopReason    recording.StopReason // set when State is stopped
	FailureReason string               // set when State is failed
	Paused        []Interval
}

// Errors of the request methods; test with errors.Is.
var (
	ErrNoSuchCall = errors.New("engine: no such call")
	ErrNotAllowed = errors.New("engine: not allowed")
	ErrWrongState = errors.New("engine: wrong recording state")
)
