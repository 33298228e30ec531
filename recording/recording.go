// Package recording is callrecd's shared vocabulary: a recording's state, who
// started it, why it stopped, the feature extensions that control it, its
// file formats and Wazo's file-name rule. Every other package (engine,
// adapters, store, media, api, config) uses these words and defines none of
// its own. The package is pure: no I/O, no dependencies beyond the standard
// library.
//
// The string values are what the index stores (the CHECK constraints of
// store's migrations accept exactly these), what the REST API shows and
// what Wazo calls them; never change a value, only add one together with a
// migration.
package recording

import "slices"

// State is a recording's state, as the index's recordings.state column
// holds it.
type State string

// Recording states.
const (
	// StatePending: asked of the PBX, not confirmed yet.
	StatePending State = "pending"
	// StateRecording: running; the PBX writes the file.
	StateRecording State = "recording"
	// StatePaused: running but paused; the file stays open and the paused
	// span is left out of it (Wazo's rule: pause/resume keep one file).
	StatePaused State = "paused"
	// StateStopped: over; the file is complete (its stop reason says why).
	StateStopped State = "stopped"
	// StateFailed: the PBX reported a failure (the row's failure reason
	// says which); whatever file exists is kept.
	StateFailed State = "failed"
	// StateMissing: the file of a finished recording is gone (set by
	// reindex).
	StateMissing State = "missing"
	// StateCorrupt: the file's size or sha256 no longer match the index, or
	// it does not decode (set by reindex).
	StateCorrupt State = "corrupt"
)

// States lists every state, in lifecycle order.
func States() []State {
	return []State{StatePending, StateRecording, StatePaused, StateStopped, StateFailed, StateMissing, StateCorrupt}
}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return slices.Contains(States(), s) }

// Live reports whether a recording in this state may still be running on the
// PBX, so its file may still be written and must not be touched: pending,
// recording or paused. This is the index's meaning ("live" rows, the
// recordings_live index) and media's (reindex and retention skip them).
func (s State) Live() bool {
	return s == StatePending || s == StateRecording || s == StatePaused
}

// Active reports whether the PBX is running the recording now: recording or
// paused. This is the engine's meaning (a call's current recording, the one
// *3, pause, resume and stop act on). Unlike Live it excludes pending.
func (s State) Active() bool {
	return s == StateRecording || s == StatePaused
}

// StartedBy says who started a recording (recordings.started_by).
type StartedBy string

// Who starts recordings.
const (
	// ByPolicy: the automatic policy, when the call was set up (also the
	// value of rows adopted by reindex, whose starter is unknown).
	ByPolicy StartedBy = "policy"
	// ByDTMF: a party dialed *3 (or *48/*49) during the call.
	ByDTMF StartedBy = "dtmf"
	// ByAPI: the REST call-control API (calld's /record/start).
	ByAPI StartedBy = "api"
	// BySIPMessage: a SIP MESSAGE (PortSIP's application/x-media-control+json).
	BySIPMessage StartedBy = "sip_message"
)

// StartedBys lists every starter.
func StartedBys() []StartedBy {
	return []StartedBy{ByPolicy, ByDTMF, ByAPI, BySIPMessage}
}

// Valid reports whether b is one of StartedBys.
func (b StartedBy) Valid() bool { return slices.Contains(StartedBys(), b) }

// StopReason says why a recording stopped (recordings.stop_reason; empty,
// NULL in the index, until it has).
type StopReason string

// Why recordings stop.
const (
	// StopHangup: the call (or the recorded leg) hung up.
	StopHangup StopReason = "hangup"
	// StopDTMF: a party dialed *3 (in stop mode).
	StopDTMF StopReason = "dtmf"
	// StopAPI: the REST call-control API (calld's /record/stop).
	StopAPI StopReason = "api"
	// StopSIPMessage: a SIP MESSAGE asked to stop.
	StopSIPMessage StopReason = "sip_message"
	// StopExternalToExternal: only external parties remained on the call
	// (the external-to-external rule).
	StopExternalToExternal StopReason = "external_to_external"
	// StopPBXLost: callrecd lost the PBX (or restarted) and found the call
	// gone; the end is the last time the recording was known to run.
	StopPBXLost StopReason = "pbx_lost"
	// StopFailed: the recording ended in failure.
	StopFailed StopReason = "failed"
)

// Failure reasons callrecd gives a failed row itself (the PBX's own errors
// are kept as they come).
const (
	// FailureUnreachable starts the reason of a start the PBX could not be
	// reached for (the link was cut mid-request): not a refusal. A policy's
	// recording is tried again, under a new row, once the link is back.
	FailureUnreachable = "the PBX could not be reached: "
	// FailureChannelGone starts the reason of a start that found the
	// recorded channel gone: the call hung up before its recording began.
	FailureChannelGone = "the call hung up before the recording could start: "
	// FailureNeverStarted: an earlier run left the row open for a
	// recording the PBX never began (that run ended between asking and the
	// start).
	FailureNeverStarted = "callrecd stopped before the PBX began the recording (the PBX has no file for it)"
)

// StopReasons lists every stop reason.
func StopReasons() []StopReason {
	return []StopReason{StopHangup, StopDTMF, StopAPI, StopSIPMessage, StopExternalToExternal, StopPBXLost, StopFailed}
}

// Valid reports whether r is one of StopReasons (the empty reason is not).
func (r StopReason) Valid() bool { return slices.Contains(StopReasons(), r) }

// Feature names a feature extension, as Wazo's /extensions/features calls
// it (feature_extensions.feature).
type Feature string

// Feature extensions.
const (
	// FeatureCallRecord (*26), dialed as a call, toggles the caller's own
	// automatic recording.
	FeatureCallRecord Feature = "callrecord"
	// FeatureOnlineRecord (*3), dialed during a call, toggles recording
	// (if the user's online_call_record_enabled, or the group's or queue's
	// dtmf_record_toggle, allows it).
	FeatureOnlineRecord Feature = "onlinerec"
	// FeaturePause (*48) pauses the call's recording (PortSIP).
	FeaturePause Feature = "pauserecord"
	// FeatureResume (*49) resumes the call's paused recording (PortSIP).
	FeatureResume Feature = "resumerecord"
)

// Features lists every feature extension a tenant has, in a fixed order.
func Features() []Feature {
	return []Feature{FeatureCallRecord, FeatureOnlineRecord, FeaturePause, FeatureResume}
}

// Valid reports whether f is one of Features.
func (f Feature) Valid() bool { return DefaultCode(f) != "" }

// DefaultCode is the extension a feature has unless configured otherwise
// (what Wazo and PortSIP ship), or "" for an unknown feature.
func DefaultCode(f Feature) string {
	switch f {
	case FeatureCallRecord:
		return "*26"
	case FeatureOnlineRecord:
		return "*3"
	case FeaturePause:
		return "*48"
	case FeatureResume:
		return "*49"
	}
	return ""
}

// OnlineRecordMode is what *3 does to a running recording (a tenant's
// online_record_mode).
type OnlineRecordMode string

// *3 modes.
const (
	// OnlineRecordPause is Wazo's: start, then pause, resume, pause … one file.
	OnlineRecordPause OnlineRecordMode = "pause"
	// OnlineRecordStop: start, stop, start … a new recording each time.
	OnlineRecordStop OnlineRecordMode = "stop"
)

// OnlineRecordModes lists both modes.
func OnlineRecordModes() []OnlineRecordMode {
	return []OnlineRecordMode{OnlineRecordPause, OnlineRecordStop}
}

// Valid reports whether m is one of OnlineRecordModes.
func (m OnlineRecordMode) Valid() bool { return slices.Contains(OnlineRecordModes(), m) }
