package esl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Event is one FreeSWITCH event, from either subscription format.
type Event struct {
	// Name is Event-Name; a CUSTOM event keeps "CUSTOM" (its subclass is
	// Headers["Event-Subclass"]).
	Name string
	// Headers holds every header. A multi-valued one (a JSON array, or
	// "ARRAY::a|:b" in plain format, e.g. variable_transfer_history after
	// a second transfer) holds its last value here, all of them in Multi.
	Headers map[string]string
	// Multi holds the multi-valued headers only; nil when there are none.
	Multi map[string][]string
	// Body is the event's body ("_body" in JSON): a BACKGROUND_JOB's
	// result, a MESSAGE's text. Its Content-Length stays in Headers.
	Body string
	// Seq is Event-Sequence, 0 if absent or not a number. FreeSWITCH does
	// not deliver events in sequence order across channels.
	Seq uint64
}

// Get is a header's value ("" if absent).
func (e Event) Get(key string) string { return e.Headers[key] }

func (e *Event) finish() {
	if len(e.Multi) == 0 {
		e.Multi = nil
	}
	e.Name = e.Headers["Event-Name"]
	e.Seq, _ = strconv.ParseUint(e.Headers["Event-Sequence"], 10, 64)
}

// DecodeJSONEvent decodes a text/event-json body (also the output of
// `uuid_dump <uuid> json`). FreeSWITCH sends one flat object of strings
// and arrays of strings; to be lenient with other producers, numbers,
// booleans and null are kept as their JSON text ("12", "true", "" for
// null), also inside arrays. Nested objects or arrays are an error, as is
// anything but one JSON object. It accepts what encoding/json accepts and
// decodes it the same (invalid UTF-8 becomes U+FFFD, a repeated key: the
// last one counts); it is a parser of its own because it is ~20 times
// faster on FreeSWITCH's 200-header events.
func DecodeJSONEvent(b []byte) (Event, error) {
	p := jsonParser{s: string(b)} // one copy; unescaped strings are slices of it
	ev, err := p.event()
	if err != nil {
		return Event{}, fmt.Errorf("esl: event JSON: %w", err)
	}
	ev.finish()
	return ev, nil
}

// DecodePlainEvent decodes a text/event-plain body: "Key: Value" lines with
// URL-encoded values, an empty line, and the body when a Content-Length
// header is among them. "ARRAY::a|:b" values are multi-valued headers.
// A line without a colon, or a body shorter than its Content-Length, is an
// error; bytes after the body are ignored.
func DecodePlainEvent(b []byte) (Event, error) {
	ev := Event{Headers: make(map[string]string, 64)}
	clen := -1
	rest := b
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of headers
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return Event{}, fmt.Errorf("esl: plain event: line without \"Key:\": %.60q", line)
		}
		key := string(line[:i])
		val := urlDecode(string(bytes.TrimLeft(line[i+1:], " ")))
		if strings.HasPrefix(val, "ARRAY::") {
			vals := strings.Split(val[len("ARRAY::"):], "|:")
			if ev.Multi == nil {
				ev.Multi = map[string][]string{}
			}
			ev.Multi[key] = vals
			val = vals[len(vals)-1]
		} else if ev.Multi != nil {
			delete(ev.Multi, key) // a repeated header: the last one counts
		}
		ev.Headers[key] = val
		if key == "Content-Length" {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				return Event{}, fmt.Errorf("esl: plain event: bad Content-Length %.40q", val)
			}
			clen = n
		}
	}
	if clen > 0 {
		if len(rest) < clen {
			return Event{}, fmt.Errorf("esl: plain event: body of %d bytes, Content-Length says %d", len(rest), clen)
		}
		ev.Body = string(rest[:clen])
	}
	ev.finish()
	return ev, nil
}

// urlDecode undoes FreeSWITCH's header encoding (switch_url_encode): "%XX"
// becomes the byte; a "%" not followed by two hex digits stays as it is,
// and "+" is not a space (FreeSWITCH encodes "+" as %2B).
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// eventQueue is the Client's unbounded event queue: the reader pushes
// without ever waiting, one goroutine (run) takes events in order.
type eventQueue struct {
	mu    sync.Mutex
	items []Event
	wake  chan struct{} // one pending wake-up is enough
}

func newEventQueue() eventQueue { return eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// run calls handle for every event, in order, until done is closed and the
// queue is empty, or stop says so (checked before each event).
func (q *eventQueue) run(done <-chan struct{}, handle func(Event), stop func() bool) {
	var batch []Event // two slices take turns: no allocation once warm
	for {
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		q.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-q.wake:
				continue
			case <-done:
				if q.len() == 0 || stop() {
					return
				}
				continue
			}
		}
		for i := range batch {
			if stop() {
				return
			}
			handle(batch[i])
			batch[i] = Event{} // let the event go
		}
	}
}
