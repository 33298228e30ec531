package ari

import (
	"encoding/json"
	"strings"
	"time"
)

// The parts of ARI's JSON models callrecd reads (Asterisk 22; see
// testdata/traces/asterisk for the real messages). Unknown fields are
// ignored, missing ones are zero.

// Channel is an ARI channel snapshot.
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	Accountcode  string            `json:"accountcode"`
	Dialplan     DialplanCEP       `json:"dialplan"`
	CreationTime string            `json:"creationtime"`
	ChannelVars  map[string]string `json:"channelvars"`
	TenantID     string            `json:"tenantid"`
}

// Endpoint is the PJSIP endpoint in the channel's name
// ("PJSIP/1001-0000002a" → "1001"), "" for other technologies (Snoop/,
// Local/).
func (c Channel) Endpoint() string {
	if tech, _ := channelTech(c.Name); tech != "PJSIP" {
		return ""
	}
	return endpointOf(c.Name)
}

// CallerID is an ARI caller id.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is a channel's dialplan location.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Bridge is an ARI bridge.
type Bridge struct {
	ID       string   `json:"id"`
	Channels []string `json:"channels"`
}

// LiveRecording is an ARI live (or finished) recording.
type LiveRecording struct {
	Name      string `json:"name"`
	Format    string `json:"format"`
	State     string `json:"state"` // queued, recording, paused, done, failed, canceled
	TargetURI string `json:"target_uri"`
	Cause     string `json:"cause"`
	Duration  int    `json:"duration"`
}

// Playback is an ARI playback.
type Playback struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	State     string `json:"state"`
}

// TextMessage is the message of TextMessageReceived.
type TextMessage struct {
	From      string            `json:"from"`
	To        string            `json:"to"`
	Body      string            `json:"body"`
	Variables map[string]string `json:"variables"`
}

// rawEvent is the union of the fields of the event types callrecd reads.
type rawEvent struct {
	Type      string   `json:"type"`
	Timestamp string   `json:"timestamp"`
	Channel   *Channel `json:"channel"`
	Bridge    *Bridge  `json:"bridge"`
	// Dial
	Caller     *Channel `json:"caller"`
	Peer       *Channel `json:"peer"`
	DialString string   `json:"dialstring"`
	DialStatus string   `json:"dialstatus"`
	// ChannelDialplan
	DialplanApp     string `json:"dialplan_app"`
	DialplanAppData string `json:"dialplan_app_data"`
	// ChannelDtmfReceived
	Digit string `json:"digit"`
	// ChannelHangupRequest, ChannelDestroyed
	Cause    int    `json:"cause"`
	CauseTxt string `json:"cause_txt"`
	// StasisStart
	Args []string `json:"args"`
	// BridgeMerged
	BridgeFrom *Bridge `json:"bridge_from"`
	// BridgeBlindTransfer
	Transferee *Channel `json:"transferee"`
	Exten      string   `json:"exten"`
	// BridgeAttendedTransfer
	TransfererFirstLeg  *Channel `json:"transferer_first_leg"`
	TransfererSecondLeg *Channel `json:"transferer_second_leg"`
	TransferTarget      *Channel `json:"transfer_target"`
	Result              string   `json:"result"`
	// Recording*
	Recording *LiveRecording `json:"recording"`
	// Playback*
	Playback *Playback `json:"playback"`
	// TextMessageReceived
	Message  *TextMessage `json:"message"`
	Endpoint *Endpoint    `json:"endpoint"`
}

// Endpoint is the part of an ARI endpoint callrecd reads: the sender of a
// TextMessageReceived, as the PBX identified it.
type Endpoint struct {
	Technology string `json:"technology"`
	Resource   string `json:"resource"`
}

func decodeRaw(data json.RawMessage) (rawEvent, error) {
	var r rawEvent
	err := json.Unmarshal(data, &r)
	return r, err
}

// ariTime parses an ARI timestamp ("2026-11-21T19:12:02.581+0000").
func ariTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// channelTech splits a channel name "PJSIP/1001-0000002a" into its
// technology ("PJSIP") and resource ("1001-0000002a").
func channelTech(name string) (tech, resource string) {
	tech, resource, _ = strings.Cut(name, "/")
	return tech, resource
}

// endpointOf is the endpoint of a channel name: "PJSIP/1001-0000002a" →
// "1001", "PJSIP/carrier-00000018" → "carrier" (the resource without its
// "-<sequence>" suffix). Local channels keep their "exten@context".
func endpointOf(name string) string {
	_, res := channelTech(name)
	if i := strings.LastIndexByte(res, ';'); i >= 0 { // Local/…;1
		res = res[:i]
	}
	if i := strings.LastIndexByte(res, '-'); i > 0 {
		res = res[:i]
	}
	return res
}

// spiedOf is the channel id a snoop spies on: its name is
// "Snoop/<spied uniqueid>-<sequence>".
func spiedOf(snoopName string) string {
	tech, res := channelTech(snoopName)
	if tech != "Snoop" {
		return ""
	}
	if i := strings.LastIndexByte(res, '-'); i > 0 {
		return res[:i]
	}
	return ""
}

// localBase is the name shared by both halves of a Local channel pair
// ("Local/100@ctx-00000002;1" → "Local/100@ctx-00000002").
func localBase(name string) string {
	if i := strings.LastIndexByte(name, ';'); i >= 0 {
		return name[:i]
	}
	return name
}

// targetChannel is the channel id of a "channel:<id>" target URI.
func targetChannel(uri string) string {
	id, ok := strings.CutPrefix(uri, "channel:")
	if !ok {
		return ""
	}
	return id
}

// sipUser is the user part of a SIP address ("<sip:1001@host>;tag=x" → "1001").
func sipUser(addr string) string {
	if i := strings.IndexByte(addr, '<'); i >= 0 {
		addr = addr[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
	}
	if i := strings.IndexByte(addr, ':'); i >= 0 {
		addr = addr[i+1:]
	}
	if i := strings.IndexAny(addr, "@;"); i >= 0 {
		return addr[:i]
	}
	return ""
}
