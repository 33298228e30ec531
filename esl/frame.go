package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Frame is one ESL message: header lines "Key: Value\n" ended by an empty
// line, then Content-Length bytes of body when that header is present.
// Header values are kept exactly as sent: FreeSWITCH URL-encodes only the
// headers inside an event-plain body (DecodePlainEvent decodes those), not
// the framing headers.
type Frame struct {
	Header map[string]string
	Body   []byte
}

// Get is a header's value ("" if absent).
func (f Frame) Get(key string) string { return f.Header[key] }

// ContentType is the frame's Content-Type header.
func (f Frame) ContentType() string { return f.Header["Content-Type"] }

// FrameError is a stream that is not ESL: after one the stream cannot be
// trusted to be in step any more, so the connection must be dropped.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "esl: garbled frame: " + e.Reason }

// Limits on one frame's header section. FreeSWITCH's largest is the
// outbound "connect" reply (~210 headers, a few kB); these only stop a
// garbage stream from eating memory.
const (
	maxHeaderBytes = 1 << 20
	maxHeaders     = 4096
	maxBlankLines  = 1024 // stray newlines skipped before a frame
	// DefaultMaxBody bounds a body when ReadFrame is given maxBody <= 0;
	// `show detailed_calls as json` on a busy box is a few MB.
	DefaultMaxBody = 64 << 20
)

// ReadFrame reads one frame. io.EOF means the stream ended cleanly between
// frames; a stream that ends inside a frame gives io.ErrUnexpectedEOF; a
// stream that is not ESL gives a *FrameError; read errors (deadlines,
// closed connection) come back as they are.
func ReadFrame(r *bufio.Reader, maxBody int) (Frame, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	f := Frame{Header: make(map[string]string, 4)}
	budget := maxHeaderBytes
	started := false // a byte of this frame has been read
	blanks, lines := 0, 0
	clen := -1
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			if err == io.EOF && (started || len(line) > 0) {
				return Frame{}, fmt.Errorf("esl: stream ended inside a frame: %w", io.ErrUnexpectedEOF)
			}
			return Frame{}, err
		}
		if len(line) == 0 {
			if !started {
				// FreeSWITCH itself skips newlines between messages.
				if blanks++; blanks > maxBlankLines {
					return Frame{}, &FrameError{Reason: "only empty lines"}
				}
				continue
			}
			break
		}
		started = true
		if lines++; lines > maxHeaders {
			return Frame{}, &FrameError{Reason: fmt.Sprintf("more than %d header lines", maxHeaders)}
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return Frame{}, &FrameError{Reason: fmt.Sprintf("header line without \"Key:\": %.60q", line)}
		}
		key := string(line[:i])
		val := string(bytes.TrimLeft(line[i+1:], " \t"))
		f.Header[key] = val
		if strings.EqualFold(key, "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			switch {
			case err != nil:
				return Frame{}, &FrameError{Reason: fmt.Sprintf("Content-Length %.40q is not a number", val)}
			case n < 0:
				return Frame{}, &FrameError{Reason: fmt.Sprintf("negative Content-Length %d", n)}
			case n > maxBody:
				return Frame{}, &FrameError{Reason: fmt.Sprintf("Content-Length %d over the %d byte limit", n, maxBody)}
			}
			clen = n
		}
	}
	if clen > 0 {
		var err error
		if clen <= 1<<20 {
			f.Body = make([]byte, clen)
			_, err = io.ReadFull(r, f.Body)
		} else {
			// Grow with what actually arrives: a lying Content-Length
			// must not allocate its full size up front.
			var b bytes.Buffer
			_, err = io.CopyN(&b, r, int64(clen))
			f.Body = b.Bytes()
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, fmt.Errorf("esl: reading a %d byte body: %w", clen, err)
		}
	}
	return f, nil
}

// readLine returns one line without its "\n" (and a "\r" before it),
// charging its length to budget. A line that ends at EOF is returned with
// io.EOF.
func readLine(r *bufio.Reader, budget *int) ([]byte, error) {
	var acc []byte
	for {
		chunk, err := r.ReadSlice('\n')
		*budget -= len(chunk)
		if *budget < 0 {
			return nil, &FrameError{Reason: fmt.Sprintf("header section over %d bytes", maxHeaderBytes)}
		}
		if err == bufio.ErrBufferFull {
			acc = append(acc, chunk...)
			continue
		}
		if acc != nil {
			acc = append(acc, chunk...)
			chunk = acc
		}
		if err != nil {
			if err == io.EOF {
				return chunk, io.EOF
			}
			return nil, err
		}
		chunk = chunk[:len(chunk)-1]
		if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
			chunk = chunk[:n-1]
		}
		return chunk, nil
	}
}

// headerOrder is where FreeSWITCH puts its framing headers; the others
// follow sorted, and Content-Length comes last except on events, which
// FreeSWITCH starts with Content-Length.
var headerOrder = []string{"Content-Type", "Reply-Text", "Job-UUID", "Controlled-Session-UUID",
	"Content-Disposition", "Channel-Name", "Linger-Time"}

// WriteFrame writes f as FreeSWITCH does. Content-Length is set from the
// body (kept as "0" if the header was given without a body). A header
// whose key or value holds a newline is left out: it would split the frame.
func WriteFrame(w io.Writer, f Frame) error {
	_, err := w.Write(AppendFrame(nil, f))
	return err
}

// AppendFrame appends f's wire form (as WriteFrame writes it) to b.
func AppendFrame(b []byte, f Frame) []byte {
	keys := make([]string, 0, len(f.Header))
	for k := range f.Header {
		if k == "" || strings.ContainsAny(k, ":\r\n") || strings.ContainsAny(f.Header[k], "\r\n") ||
			strings.EqualFold(k, "Content-Length") || slices.Contains(headerOrder, k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	clen := ""
	if len(f.Body) > 0 || hasKeyFold(f.Header, "Content-Length") {
		clen = strconv.Itoa(len(f.Body))
	}
	put := func(k, v string) {
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, '\n')
	}
	isEvent := strings.HasPrefix(f.Header["Content-Type"], "text/event-")
	if isEvent && clen != "" {
		put("Content-Length", clen)
	}
	for _, k := range headerOrder {
		if v, ok := f.Header[k]; ok && !strings.ContainsAny(v, "\r\n") {
			put(k, v)
		}
	}
	for _, k := range keys {
		put(k, f.Header[k])
	}
	if !isEvent && clen != "" {
		put("Content-Length", clen)
	}
	b = append(b, '\n')
	return append(b, f.Body...)
}

func hasKeyFold(h map[string]string, key string) bool {
	for k := range h {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// isFrameError reports whether err is a *FrameError.
func isFrameError(err error) bool {
	var fe *FrameError
	return errors.As(err, &fe)
}

// text is a body on one line, for errors and logs.
func text(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(no text)"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func summary(f Frame) string {
	s := fmt.Sprintf("%q", f.Header)
	if len(f.Body) > 0 {
		s += " " + text(f.Body)
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// streamError says why reading frames stopped: a read deadline is the
// heartbeat timeout running out.
func streamError(err error, heartbeat time.Duration) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("esl: no event for %s (FreeSWITCH sends HEARTBEAT every 20 s): connection presumed dead",
			seconds(heartbeat))
	case isFrameError(err):
		return err
	case err == io.EOF:
		return errors.New("esl: connection lost: closed by FreeSWITCH without a disconnect notice")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("esl: connection lost: closed by FreeSWITCH in the middle of a frame")
	}
	return fmt.Errorf("esl: connection lost: %w", err)
}

// seconds prints 65s as "65s", not "1m5s".
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
