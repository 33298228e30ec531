package esltest

import (
	"slices"
	"strconv"
	"strings"

	"github.com/callrecd/callrecd/esl"
)

// coreOrder is the order FreeSWITCH serializes an event's first headers
// in; the event's own headers follow (sorted here: the Event keeps no
// order), then Content-Length and the body.
var coreOrder = []string{"Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
	"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
	"Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"}

// eventKeys are ev's header names in serialization order, Content-Length
// and _body left out (they are written from Body). Name, if set, is the
// Event-Name.
func eventKeys(ev esl.Event) []string {
	seen := map[string]bool{}
	var rest []string
	add := func(k string) {
		if seen[k] || k == "Content-Length" || k == "_body" || k == "Event-Name" {
			return
		}
		seen[k] = true
		rest = append(rest, k)
	}
	for k := range ev.Headers {
		add(k)
	}
	for k := range ev.Multi {
		add(k)
	}
	slices.SortFunc(rest, func(a, b string) int {
		ia, ib := slices.Index(coreOrder, a), slices.Index(coreOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	if name(ev) != "" {
		rest = append([]string{"Event-Name"}, rest...)
	}
	return rest
}

func name(ev esl.Event) string {
	if ev.Name != "" {
		return ev.Name
	}
	return ev.Headers["Event-Name"]
}

// EncodeJSON is the text/event-json body FreeSWITCH sends for ev: one
// unformatted JSON object as cJSON prints it (no HTML escaping), every
// header a string, a Multi header an array of strings, and when there is
// a Body, "Content-Length" and "_body" last.
func EncodeJSON(ev esl.Event) []byte {
	b := make([]byte, 0, 4096)
	b = append(b, '{')
	for i, k := range eventKeys(ev) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if vals, ok := ev.Multi[k]; ok {
			b = append(b, '[')
			for j, v := range vals {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, v)
			}
			b = append(b, ']')
			continue
		}
		v := ev.Headers[k]
		if k == "Event-Name" {
			v = name(ev)
		}
		b = appendJSONString(b, v)
	}
	if ev.Body != "" {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, "Content-Length")
		b = append(b, ':')
		b = appendJSONString(b, strconv.Itoa(len(ev.Body)))
		b = append(b, ',')
		b = appendJSONString(b, "_body")
		b = append(b, ':')
		b = appendJSONString(b, ev.Body)
	}
	return append(b, '}')
}

// appendJSONString quotes s as cJSON does: the short escapes, \u00XX for
// other control bytes, every other byte as it is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
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
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// EncodePlain is the text/event-plain body FreeSWITCH sends for ev:
// "Key: Value" lines with URL-encoded values (a Multi header as
// "ARRAY::a|:b"), then either an empty line, or "Content-Length: N", an
// empty line and the Body.
func EncodePlain(ev esl.Event) []byte {
	b := make([]byte, 0, 8192)
	for _, k := range eventKeys(ev) {
		v := ev.Headers[k]
		if k == "Event-Name" {
			v = name(ev)
		}
		if vals, ok := ev.Multi[k]; ok {
			v = "ARRAY::" + strings.Join(vals, "|:")
		}
		b = append(b, k...)
		b = append(b, ": "...)
		b = appendURLEncoded(b, v)
		b = append(b, '\n')
	}
	if ev.Body != "" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(ev.Body)), 10)
		b = append(b, "\n\n"...)
		return append(b, ev.Body...)
	}
	return append(b, '\n')
}

// urlUnsafe is SWITCH_URL_UNSAFE; bytes outside ' '..'~' are encoded too.
const urlUnsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""

// appendURLEncoded encodes as switch_url_encode does ("%" always, so the
// decoder gets the value back exactly).
func appendURLEncoded(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0 {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
