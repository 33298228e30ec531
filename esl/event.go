package esl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
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

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) fail(what string) error {
	if p.i >= len(p.s) {
		return fmt.Errorf("%s at the end of the data", what)
	}
	return fmt.Errorf("%s at offset %d (%.20q)", what, p.i, p.s[p.i:])
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// eat skips whitespace and then c, if it is there.
func (p *jsonParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) event() (Event, error) {
	if !p.eat('{') {
		return Event{}, p.fail("not an object")
	}
	ev := Event{Headers: make(map[string]string, len(p.s)/40)}
	if !p.eat('}') {
		for {
			p.ws()
			key, err := p.str()
			if err != nil {
				return Event{}, err
			}
			if !p.eat(':') {
				return Event{}, p.fail("expected ':'")
			}
			if p.eat('[') {
				vals, err := p.array()
				if err != nil {
					return Event{}, err
				}
				if key == "_body" {
					return Event{}, fmt.Errorf("_body is an array")
				}
				if ev.Multi == nil {
					ev.Multi = map[string][]string{}
				}
				ev.Multi[key] = vals
				ev.Headers[key] = ""
				if len(vals) > 0 {
					ev.Headers[key] = vals[len(vals)-1]
				}
			} else {
				val, err := p.scalar()
				if err != nil {
					return Event{}, err
				}
				if key == "_body" {
					ev.Body = val
				} else {
					ev.Headers[key] = val
					delete(ev.Multi, key) // a repeated key: the last one counts
				}
			}
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return Event{}, p.fail("expected ',' or '}'")
		}
	}
	if p.ws(); p.i != len(p.s) {
		return Event{}, p.fail("data after the object")
	}
	return ev, nil
}

// array is after its '['.
func (p *jsonParser) array() ([]string, error) {
	vals := []string{}
	if p.eat(']') {
		return vals, nil
	}
	for {
		v, err := p.scalar()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return vals, nil
		}
		return nil, p.fail("expected ',' or ']'")
	}
}

// scalar is a string, number, true, false or null, as text.
func (p *jsonParser) scalar() (string, error) {
	p.ws()
	if p.i >= len(p.s) {
		return "", p.fail("missing value")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '{' || c == '[':
		return "", p.fail("nested object or array")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(p.s[p.i:], lit) {
			p.i += len(lit)
			if lit == "null" {
				return "", nil
			}
			return lit, nil
		}
	}
	return "", p.fail("invalid value")
}

// number checks JSON's number grammar and returns the text.
func (p *jsonParser) number() (string, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", p.fail("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		if p.i++; digits() == 0 {
			return "", p.fail("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.fail("invalid number")
		}
	}
	return p.s[start:p.i], nil
}

// str is a JSON string at p.i, unescaped.
func (p *jsonParser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.fail("expected a string")
	}
	p.i++
	start := p.i
	ascii := true // FreeSWITCH's headers nearly always are: no UTF-8 check then
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if ascii {
				return v, nil
			}
			return validUTF8(v), nil
		case c >= 0x80:
			ascii = false
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.fail("control character in a string")
		}
		p.i++
	}
	return "", p.fail("unterminated string")
}

// escaped finishes a string that has escapes, from its first one.
func (p *jsonParser) escaped(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return validUTF8(b.String()), nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone half is U+FFFD, as in encoding/json.
				save := p.i
				if strings.HasPrefix(p.s[p.i:], "\\u") {
					p.i += 2
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							continue
						}
					}
				}
				p.i = save
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", p.fail("invalid escape")
		}
	}
	return "", p.fail("unterminated string")
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as
// encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	p.i += 4
	return r, true
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
