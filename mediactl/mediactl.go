// Package mediactl reads PortSIP's recording-control SIP MESSAGE bodies:
// out of dialog, Content-Type application/x-media-control+json with
// {"operation":"pause"|"resume","session_id":"…"}; in dialog, a plain
// "pause-audio-recording" / "resume-audio-recording". It is pure (no I/O):
// the SIP listener (sipctl) and the engine's PBX-delivered messages share
// it, so both read the same forms the same way.
package mediactl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
)

// ContentType is the Content-Type of PortSIP's recording-control MESSAGE.
const ContentType = "application/x-media-control+json"

// MaxBody is the largest body read (the listener answers 413 above it).
// PortSIP's JSON is well under 200 bytes; 4 KiB leaves room for long
// session ids without letting a sender make callrecd parse megabytes.
const MaxBody = 4 << 10

// Operation is what a request asks of the recording.
type Operation string

// The operations.
const (
	Pause  Operation = "pause"
	Resume Operation = "resume"
)

// Request is one parsed control message. SessionID is empty for the
// in-dialog plain forms: the dialog names the call.
type Request struct {
	Operation Operation
	SessionID string
}

// InDialogForm reports whether r came as a plain in-dialog command (no
// session id): out of dialog it names no call.
func (r Request) InDialogForm() bool { return r.SessionID == "" }

// The error kinds; every error Parse returns wraps exactly one of them
// (errors.Is), so a caller maps them to SIP answers: ErrBadRequest → 400,
// ErrUnsupportedMediaType → 415, ErrTooLarge → 413.
var (
	ErrBadRequest           = errors.New("mediactl: bad request")
	ErrUnsupportedMediaType = errors.New("mediactl: unsupported media type")
	ErrTooLarge             = errors.New("mediactl: body too large")
)

// plainForms are PortSIP's in-dialog commands callrecd carries out. The
// video ones (pause-video-recording, …) are not: callrecd records audio.
var plainForms = map[string]Operation{
	"pause-audio-recording":  Pause,
	"resume-audio-recording": Resume,
}

// Parse reads a control message. contentType is the header's value
// (parameters such as charset are ignored; matching is case-insensitive).
// Accepted: PortSIP's ContentType with the JSON body; text/plain with the
// same JSON (what Asterisk lets through out of dialog, trace g) or with a
// plain in-dialog command; an empty type is read as text/plain, since the
// PBXs' message events do not always carry it.
func Parse(contentType string, body []byte) (Request, error) {
	if len(body) > MaxBody {
		return Request{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(body), MaxBody)
	}
	mt := "text/plain"
	if strings.TrimSpace(contentType) != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return Request{}, fmt.Errorf("%w: Content-Type %q: %v", ErrUnsupportedMediaType, contentType, err)
		}
	}
	body = bytes.TrimSpace(body)
	switch mt {
	case ContentType:
		return parseJSON(body)
	case "text/plain":
		if len(body) > 0 && body[0] == '{' {
			return parseJSON(body)
		}
		op, ok := plainForms[strings.ToLower(string(body))]
		if !ok {
			return Request{}, fmt.Errorf("%w: unknown command %q (want %s JSON, pause-audio-recording or resume-audio-recording)",
				ErrBadRequest, clip(body), ContentType)
		}
		return Request{Operation: op}, nil
	default:
		return Request{}, fmt.Errorf("%w: %q (want %s or text/plain)", ErrUnsupportedMediaType, mt, ContentType)
	}
}

// parseJSON reads {"operation":…,"session_id":…}; both are required and
// must be strings. Unknown fields are ignored, as PortSIP may add some.
func parseJSON(body []byte) (Request, error) {
	var m struct {
		Operation *string `json:"operation"`
		SessionID *string `json:"session_id"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return Request{}, fmt.Errorf("%w: body is not a JSON object: %v", ErrBadRequest, err)
	}
	switch {
	case m.Operation == nil:
		return Request{}, fmt.Errorf("%w: operation is missing", ErrBadRequest)
	case m.SessionID == nil || strings.TrimSpace(*m.SessionID) == "":
		return Request{}, fmt.Errorf("%w: session_id is missing", ErrBadRequest)
	}
	op := Operation(strings.ToLower(strings.TrimSpace(*m.Operation)))
	if op != Pause && op != Resume {
		return Request{}, fmt.Errorf("%w: operation %q: want pause or resume", ErrBadRequest, *m.Operation)
	}
	return Request{Operation: op, SessionID: strings.TrimSpace(*m.SessionID)}, nil
}

// clip keeps error messages (and logs) short whatever the body.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
