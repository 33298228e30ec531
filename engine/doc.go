// Package engine is the recording brain of callrecd: it keeps the call graph
// (channels, bridges, calls), applies the recording policy (automatic
// recording, *3, *48/*49, *26, SIP MESSAGE, REST), enforces the
// external-to-external rule and drives each recording through
// idle → recording ⇄ paused → stopped (or failed).
//
// The package is pure: normalized Events come in (from the ari/ and esl/
// adapters) and call-control requests (REST, SIP), and each returns the
// ordered Effects it decided: PBX commands, call and recording row writes,
// "recording final" notices, the *26 settings write. It calls nothing but
// the (cached) Settings reads; the executor package carries the effects
// out. Time comes from the events' timestamps (and an injected Clock for
// requests that are not events), so every rule is a table test of
// (state, event) → effects. An Engine is safe for concurrent use: one mutex
// serializes the adapter's event loop and the REST/SIP handlers; the
// executor applies the batches in the order they were decided.
//
// What only some PBXs can do, or only some deployments want, is declared in
// Config (Prepares, MayStart) and checked once in New.
//
// # Calls
//
// A call is the connected set of channels: channels that share the PBX call
// id (Asterisk linkedid, FreeSWITCH call uuid) or that have been in one bridge
// together. Calls merge (attended transfer, pickup, bridge merge) and never
// split. The rules are re-evaluated on every membership change.
//
// Definitions used by the rules (see evaluate):
//   - parties: the live (not hung up) channels of the call whose role is
//     internal or external (Local/connector channels are not parties);
//   - talking: the parties that sit in a bridge with at least one other
//     channel;
//   - the call is external-only when it has at least two parties and the
//     talking parties (or, when nobody is bridged, all parties) include no
//     internal one;
//   - the conversation is over when at most one party is left.
//
// # Where a recording runs, and re-arming
//
// Recording.Channel is the channel the PBX is asked to record (Asterisk:
// snoop on it with spy=both and record the snoop). The engine prefers a leg
// that survives transfers: an external (trunk) leg first, then the oldest
// internal leg. When that channel hangs up while the conversation goes on
// (e.g. the recorded user transferred the call), the engine re-arms: it
// issues OpStart again with the SAME recording name on a remaining leg.
// The adapter must append to the existing file (Asterisk: ifExists=append,
// issued after the RecordingFinished of the previous part), so one recording
// keeps one row and one file. The engine tells segments apart by the Channel
// field of RecordingStarted/Finished/Failed events (the recorded channel,
// not the snoop); adapters should fill it. A paused recording whose leg died
// is re-armed only when it is resumed, so no paused audio leaks.
//
// A PBX may be unable to record a leg fully (Asterisk: after a transfer, a
// snoop on the leg kept through it hears only that leg, not the party
// swapped in). The adapter, which knows such quirks, says so with LegDeaf;
// the engine, which decides which leg records, then moves an active
// recording off that leg: it stops the current part and starts the next
// one, same name, on the best leg that hears the call, and ranks deaf legs
// last whenever it picks a leg again.
//
// # Contract for adapters
//   - Emit Hangup for a channel no later than the RecordingFinished of a
//     recording that ran on it (Asterisk: ChannelHangupRequest or
//     ChannelDestroyed, whichever comes first).
//   - PBX methods are called by the executor in the engine's order. They
//     must not wait for the PBX's answer: queue the command and return. The
//     engine assumes nothing has happened until the matching event
//     (RecordingStarted, …) arrives, but never starts a second recording
//     meanwhile.
//   - Every event carries its PBX timestamp in At; a zero At means "now" by
//     the engine's clock.
package engine
