package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// A CDR page is the API's hottest response. writeCalls writes it straight
// from the store's calls, without reflection, into a pooled buffer: byte
// for byte what encoding/json's Encoder (echo's c.JSON) writes for the
// cdrList renderCDR makes of them; TestAppendCallMatchesRenderCDR holds it
// to that.

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// prettyJSON: echo's c.JSON would indent this response (?pretty, debug
// mode); leave such a response to encoding/json.
func prettyJSON(c echo.Context) bool {
	_, pretty := c.QueryParams()["pretty"]
	return pretty || c.Echo().Debug
}

// writeCalls writes a CDR page straight from the store's calls: the bytes
// c.JSON writes for the cdrList renderCDR makes of them, without building
// that list.
func (s *server) writeCalls(c echo.Context, calls []store.Call, total, filtered int) error {
	return writeJSONWith(c, func(b []byte) []byte {
		b = append(b, `{"items":[`...)
		for i := range calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendCall(b, &calls[i])
		}
		b = append(b, `],"total":`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, `,"filtered":`...)
		b = strconv.AppendInt(b, int64(filtered), 10)
		return append(b, '}')
	})
}

// writeJSONWith answers 200 with what fill appends to a pooled buffer and
// the newline encoding/json's Encoder ends with. Content-Length is set: the
// body goes out in one piece rather than in chunks.
func writeJSONWith(c echo.Context, fill func([]byte) []byte) error {
	bp := jsonBufs.Get().(*[]byte)
	b := append(fill((*bp)[:0]), '\n')
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	err := c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBufs.Put(bp)
	}
	return err
}

// appendCall appends the call as appendCDR writes renderCDR(*call);
// TestAppendCallMatchesRenderCDR holds it to that.
func (s *server) appendCall(b []byte, call *store.Call) []byte {
	ctx := s.dialplanContext(call.TenantUUID)
	dstUser, srcUser := call.DestinationUserUUID != "", call.SourceUserUUID != ""
	requested := call.RequestedExtension
	if requested == "" {
		requested = call.DestinationExtension
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, call.ID, 10)
	b = appendField(b, "tenant_uuid", call.TenantUUID)
	b = append(b, `,"start":"`...)
	b = append(appendTS(b, call.Start), '"')
	b = appendTimePtr(b, "end", call.End)
	b = append(b, `,"answered":`...)
	b = strconv.AppendBool(b, call.Answer != nil)
	b = appendTimePtr(b, "answer", call.Answer)
	b = append(b, `,"duration":`...)
	if call.Answer != nil && call.End != nil {
		b = strconv.AppendInt(b, int64(call.End.Sub(*call.Answer).Seconds()), 10)
	} else {
		b = append(b, "null"...)
	}
	b = appendField(b, "call_direction", call.Direction)
	b = appendField(b, "call_status", callStatus(call))
	b = appendIf(b, "conversation_id", call.PBXCallID, call.PBXCallID != "")
	if dstUser {
		b = append(b, `,"destination_details":{"type":"user"`...)
		b = appendField(b, "user_uuid", call.DestinationUserUUID)
		if call.DestinationName != "" {
			b = appendField(b, "user_name", call.DestinationName)
		}
		b = append(b, '}')
	} else {
		b = append(b, `,"destination_details":{"type":"unknown"}`...)
	}
	b = appendField(b, "destination_extension", call.DestinationExtension)
	b = appendIf(b, "destination_internal_context", ctx, dstUser)
	b = appendIf(b, "destination_internal_extension", call.DestinationExtension, dstUser && call.DestinationExtension != "")
	b = append(b, `,"destination_line_id":null`...)
	b = appendField(b, "destination_name", call.DestinationName)
	b = appendIf(b, "destination_user_uuid", call.DestinationUserUUID, dstUser)
	b = appendField(b, "requested_name", call.DestinationName)
	b = appendField(b, "requested_context", ctx)
	b = appendField(b, "requested_extension", requested)
	b = appendIf(b, "requested_internal_context", ctx, dstUser)
	b = appendIf(b, "requested_internal_extension", requested, dstUser && requested != "")
	reqUser := requestedUser(call)
	b = appendIf(b, "requested_user_uuid", reqUser, reqUser != "")
	b = appendField(b, "source_extension", call.SourceExtension)
	b = appendIf(b, "source_internal_context", ctx, srcUser)
	b = appendIf(b, "source_internal_extension", call.SourceExtension, srcUser && call.SourceExtension != "")
	b = appendIf(b, "source_internal_name", call.SourceName, srcUser && call.SourceName != "")
	b = append(b, `,"source_line_id":null`...)
	b = appendField(b, "source_name", call.SourceName)
	b = appendIf(b, "source_user_uuid", call.SourceUserUUID, srcUser)
	b = append(b, `,"tags":[`...)
	for i, t := range call.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, `],"recordings":[`...)
	for i := range call.Recordings {
		r := &call.Recordings[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"uuid":`...)
		b = appendJSONString(b, r.UUID)
		b = append(b, `,"start_time":"`...)
		b = append(appendTS(b, r.Start), '"')
		b = appendTimePtr(b, "end_time", r.End)
		b = append(b, `,"deleted":`...)
		b = strconv.AppendBool(b, r.Deleted)
		b = appendField(b, "filename", r.Filename)
		b = appendRecordingOwn(b, r)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendRecordingOwn appends callrecd's own keys of a recording, as
// renderRecording sets them.
func appendRecordingOwn(b []byte, r *store.Recording) []byte {
	b = appendField(b, "state", r.State)
	b = appendField(b, "started_by", r.StartedBy)
	b = appendIf(b, "stop_reason", r.StopReason, r.StopReason != "")
	b = appendIf(b, "failure_reason", r.FailureReason, r.FailureReason != "")
	b = append(b, `,"paused_intervals":[`...)
	for i, iv := range r.PausedIntervals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"start":"`...)
		b = append(appendTS(b, iv.Start), '"')
		b = appendTimePtr(b, "end", iv.End)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendField(b, "format", r.Format)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, r.Size, 10)
	b = append(b, `,"duration":`...)
	// encoding/json writes a float64 this way from 1e-6 to 1e21, and a
	// millisecond count over 1000 stays in that range.
	b = strconv.AppendFloat(b, seconds(r.Duration), 'f', -1, 64)
	return appendIf(b, "sha256", r.SHA256, r.SHA256 != "")
}

// appendIf appends ,"name":"v" if ok, else ,"name":null.
func appendIf(b []byte, name, v string, ok bool) []byte {
	if !ok {
		b = append(b, ',', '"')
		b = append(b, name...)
		return append(b, `":null`...)
	}
	return appendField(b, name, v)
}

// appendTimePtr appends the field as tsPtr renders it.
func appendTimePtr(b []byte, name string, t *time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	if t == nil || t.IsZero() {
		return append(b, `":null`...)
	}
	b = append(b, `":"`...)
	return append(appendTS(b, *t), '"')
}

// appendField appends ,"name":"value"; names are plain ASCII.
func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s exactly as encoding/json does with HTML escaping
// on (its default, and echo's): \" \\ \b \f \n \r \t, other control bytes and
// < > & as \u00XX, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
