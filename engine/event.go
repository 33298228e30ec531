package engine

import (
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Role tells what a channel is to the recording rules.
type Role uint8

const (
	// RoleUnknown is treated like RoleExternal (the safe side for the
	// external-to-external rule).
	RoleUnknown Role = iota
	// RoleInternal is a user's phone (an endpoint of the tenant).
	RoleInternal
	// RoleExternal is a trunk leg: an outside caller or callee.
	RoleExternal
	// RoleLocal is a connector channel (Asterisk Local;1/;2, FreeSWITCH
	// loopback): it links bridges of one call but is not a party.
	RoleLocal
)

func (r Role) String() string {
	switch r {
	case RoleInternal:
		return "internal"
	case RoleExternal:
		return "external"
	case RoleLocal:
		return "local"
	default:
		return "unknown"
	}
}

// isParty reports whether a channel with this role is a party of a call.
func (r Role) isParty() bool { return r != RoleLocal }

// TransferKind distinguishes blind from attended transfers.
type TransferKind string

// Transfer kinds.
const (
	TransferBlind    TransferKind = "blind"
	TransferAttended TransferKind = "attended"
)

// Event is a normalized PBX event. The set of events is closed: only the
// types of this package implement it.
type Event interface {
	// When is the PBX timestamp of the event (zero: unknown, use the clock).
	When() time.Time
	isEvent()
}

// ChannelCreated: a new channel exists on the PBX.
type ChannelCreated struct {
	At      time.Time
	Channel string // PBX channel id (Asterisk uniqueid, FreeSWITCH uuid)
	// CallID is the PBX's call id if known (Asterisk linkedid, FreeSWITCH
	// call uuid). Channels sharing it belong to one call. Empty: the channel
	// starts a call of its own (it may join others through bridges).
	CallID       string
	Tenant       string
	Endpoint     string // internal endpoint / device name (user lookup key)
	Role         Role
	CallerNumber string
	CallerName   string
	CalleeNumber string // dialed number / extension
	Group        string // ring group the channel was reached through, if any
	Queue        string // queue the channel was reached through, if any
	Answered     bool   // the channel is already up (snapshots, originates)
	// SIPCallID is the Call-ID of the channel's SIP dialog, if known: a
	// phone knows it without any PBX set-up, so it is a session id too.
	SIPCallID string
}

// ChannelAnswered: the channel is up (Asterisk state Up, FreeSWITCH
// CHANNEL_ANSWER).
type ChannelAnswered struct {
	At      time.Time
	Channel string
}

// ChannelBridged: the channel entered a bridge (and left any other one).
type ChannelBridged struct {
	At      time.Time
	Channel string
	Bridge  string
}

// ChannelUnbridged: the channel left the bridge.
type ChannelUnbridged struct {
	At      time.Time
	Channel string
	Bridge  string
}

// BridgeMerged: every channel of bridge From moved into bridge To.
type BridgeMerged struct {
	At   time.Time
	From string
	To   string
}

// Transferred reports a transfer. Membership changes still arrive as bridge
// events; this event lets the engine join the calls of Transferee and Target
// (attended) even when the PBX gave them different call ids.
type Transferred struct {
	At         time.Time
	Kind       TransferKind
	Transferer string // channel that asked for the transfer
	Transferee string // channel being transferred
	Target     string // channel of the transfer target (attended), if known
	Exten      string // destination extension (blind), if known
}

// LegDeaf: from now on, recording Channel captures only that leg's own
// audio, not what it hears (Asterisk: a snoop, old or new, on a leg kept
// through a transfer stops hearing the party swapped in; see ari/). The
// engine moves an active recording off it to a leg that hears the call (same
// name: the PBX appends) and avoids it when choosing a leg later.
type LegDeaf struct {
	At      time.Time
	Channel string
}

// DTMF: one digit received from a channel (one event per digit).
type DTMF struct {
	At      time.Time
	Channel string
	Digit   byte // '0'-'9', '*', '#', 'A'-'D'
}

// FeatureCall: a channel dialed a feature routed to the application (e.g.
// *26 → Feature "callrecord").
type FeatureCall struct {
	At      time.Time
	Channel string
	Feature recording.Feature // recording.FeatureCallRecord, ...
}

// TextMessage: a SIP MESSAGE reached the application.
type TextMessage struct {
	At          time.Time
	Channel     string // in-dialog: the channel of the dialog; "" out of dialog
	Endpoint    string // the sender's endpoint (as the PBX identified it, else From's user); "" unknown
	From        string
	ContentType string
	Headers     map[string]string
	Body        string
}

// Hangup: the channel is gone.
type Hangup struct {
	At        time.Time
	Channel   string
	Cause     int
	CauseText string
}

// RecordingStarted: the PBX reports that recording Name runs (one part).
type RecordingStarted struct {
	At      time.Time
	Name    string // the name the engine chose (recording uuid)
	Channel string // the recorded channel (not the snoop), if known
}

// RecordingFinished: the PBX reports that (one part of) recording Name ended.
type RecordingFinished struct {
	At      time.Time
	Name    string
	Channel string
}

// RecordingFailed: the PBX reports that recording Name failed.
type RecordingFailed struct {
	At      time.Time
	Name    string
	Channel string
	Reason  string
	// Unreachable: the start failed because the PBX could not be reached
	// (the link was cut), not because it refused: the policy tries again
	// at the next re-sync.
	Unreachable bool
	// ChannelGone: the PBX has no such channel any more (the call hung up
	// as its recording was being started).
	ChannelGone bool
}

// StorageRecovered: the storage is above its free-space floor again (the
// disk guard saw it come back). Calls whose automatic recording it refused
// are recorded now, if they still must be.
type StorageRecovered struct {
	At time.Time
}

// Snapshot is the whole PBX state after a (re)connect.
type Snapshot struct {
	At         time.Time
	Channels   []SnapshotChannel
	Recordings []LiveRecording

	index *indexView // the index's open rows, read by Handle
}

// SnapshotChannel is one channel of a Snapshot (its At is ignored).
type SnapshotChannel struct {
	ChannelCreated
	Bridge string // bridge the channel is in, "" if none
}

// LiveRecording is a recording the PBX reports as live in a Snapshot.
type LiveRecording struct {
	Name    string
	Channel string // recorded channel (not the snoop), if known
	Paused  bool
	// PauseUnknown: the PBX cannot tell whether it is paused (FreeSWITCH
	// shows no pause state); the engine sets the state its row holds.
	PauseUnknown bool
}

func (e ChannelCreated) When() time.Time    { return e.At }
func (e ChannelAnswered) When() time.Time   { return e.At }
func (e ChannelBridged) When() time.Time    { return e.At }
func (e ChannelUnbridged) When() time.Time  { return e.At }
func (e BridgeMerged) When() time.Time      { return e.At }
func (e Transferred) When() time.Time       { return e.At }
func (e LegDeaf) When() time.Time           { return e.At }
func (e DTMF) When() time.Time              { return e.At }
func (e FeatureCall) When() time.Time       { return e.At }
func (e TextMessage) When() time.Time       { return e.At }
func (e Hangup) When() time.Time            { return e.At }
func (e RecordingStarted) When() time.Time  { return e.At }
func (e RecordingFinished) When() time.Time { return e.At }
func (e RecordingFailed) When() time.Time   { return e.At }
func (e Snapshot) When() time.Time          { return e.At }
func (e StorageRecovered) When() time.Time  { return e.At }

func (ChannelCreated) isEvent()    {}
func (ChannelAnswered) isEvent()   {}
func (ChannelBridged) isEvent()    {}
func (ChannelUnbridged) isEvent()  {}
func (BridgeMerged) isEvent()      {}
func (Transferred) isEvent()       {}
func (LegDeaf) isEvent()           {}
func (DTMF) isEvent()              {}
func (FeatureCall) isEvent()       {}
func (TextMessage) isEvent()       {}
func (Hangup) isEvent()            {}
func (RecordingStarted) isEvent()  {}
func (RecordingFinished) isEvent() {}
func (RecordingFailed) isEvent()   {}
func (Snapshot) isEvent()          {}
func (StorageRecovered) isEvent()  {}
