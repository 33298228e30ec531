package esl

import (
	"fmt"
	"strings"
	"time"
)

// The reader side of a Client: one goroutine reads frames, hands replies to
// the waiting commands in order and events to the dispatcher queue.

func (c *Client) readLoop() {
	defer close(c.readerDone)
	hb := c.cfg.HeartbeatTimeout
	for {
		if hb > 0 {
			c.conn.SetReadDeadline(time.Now().Add(hb))
		}
		f, err := ReadFrame(c.br, maxBody)
		if err != nil {
			c.fail(streamError(err, c.cfg.HeartbeatTimeout))
			return
		}
		if err := c.handle(f); err != nil {
			c.fail(err)
			return
		}
	}
}

// handle is one frame; an error kills the connection.
func (c *Client) handle(f Frame) error {
	switch ct := f.ContentType(); ct {
	case "command/reply", "api/response":
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return fmt.Errorf("esl: a %s came with no command waiting for it (%s): replies are out of step", ct, summary(f))
		}
		w := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.mu.Unlock()
		w.ch <- reply{f: f}
	case "text/event-json", "text/event-plain":
		decode := DecodeJSONEvent
		if ct == "text/event-plain" {
			decode = DecodePlainEvent
		}
		ev, err := decode(f.Body)
		if err != nil {
			return fmt.Errorf("esl: garbled event: %w", err)
		}
		c.event(ev)
	case "text/disconnect-notice":
		if strings.EqualFold(f.Get("Content-Disposition"), "linger") {
			c.log.Info("esl: FreeSWITCH says the channel is gone; lingering", "channel", f.Get("Channel-Name"))
			return nil
		}
		return fmt.Errorf("esl: disconnected by FreeSWITCH: %s", text(f.Body))
	case "text/rude-rejection":
		return fmt.Errorf("esl: rude-rejection: %s", text(f.Body))
	case "log/data":
		c.log.Debug("esl: FreeSWITCH log", "line", text(f.Body))
	case "auth/request": // only ever the greeting, read by login
		c.log.Debug("esl: ignoring a second auth/request")
	default:
		if !c.unknown[ct] && len(c.unknown) < 32 {
			c.unknown[ct] = true
			c.log.Warn("esl: ignoring a message of unknown type", "content_type", ct, "frame", summary(f))
		}
	}
	return nil
}

func (c *Client) event(ev Event) {
	if ev.Name == "BACKGROUND_JOB" {
		c.mu.Lock()
		if ch, ok := c.jobs[ev.Get("Job-UUID")]; ok { // else another client's job
			delete(c.jobs, ev.Get("Job-UUID"))
			ch <- ev.Body
		}
		c.mu.Unlock()
	}
	if c.drop[ev.Name] || c.cfg.OnEvent == nil {
		return
	}
	c.events.push(ev)
}
