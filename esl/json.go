package esl

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonParser decodes FreeSWITCH's text/event-json bodies (a flat object of
// strings and arrays of strings) without building a map[string]any:
// FuzzDecodeJSONEvent holds it to encoding/json's answers.

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
