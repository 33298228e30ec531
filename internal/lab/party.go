package lab

// A party of a lab call (one channel on the peer) and what a test does
// with it: wait for it, send digits, transfer, hang up.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Party is one peer-side channel: a phone, the carrier caller or an external callee.
type Party struct {
	d         *Driver
	Name      string    // "1001".."1004", "carrier", or the external number called
	Direction Direction // Outgoing: placed by the driver; Incoming: sent by the PBX
	ChannelID string    // the channel on the PEER (not the PBX's)
	Exten     string    // Outgoing: what the party dialled; Incoming: the number called
	Caller    CallerID  // Incoming: the caller id the PBX presented
	Tone      int       // Hz the party plays once answered
	Created   time.Time

	mu       sync.Mutex
	bridgeID string
	upAt     time.Time
	upErr    error
	upDone   bool
	up       chan struct{}
	ended    chan struct{}
	endDone  bool
	endCause int
	digits   strings.Builder
	changed  chan struct{}
}

func (p *Party) String() string {
	return fmt.Sprintf("%s %s %s (%s)", p.Direction, p.Name, p.Exten, p.ChannelID)
}

func (p *Party) markUp(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upDone {
		return
	}
	p.upDone, p.upErr, p.upAt = true, err, time.Now()
	close(p.up)
}

func (p *Party) markEnded(cause int) {
	p.mu.Lock()
	if p.endDone {
		p.mu.Unlock()
		return
	}
	p.endDone, p.endCause = true, cause
	close(p.ended)
	p.mu.Unlock()
	p.markUp(fmt.Errorf("lab: %s ended before it was up (cause %d)", p, cause))
}

func (p *Party) addDigit(digit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.digits.WriteString(digit)
	close(p.changed)
	p.changed = make(chan struct{})
}

// WaitUp waits until the party is answered and plays its tone; it returns an error if the
// call ended first or could not be set up.
func (p *Party) WaitUp(ctx context.Context) error {
	select {
	case <-p.up:
	case <-ctx.Done():
		return fmt.Errorf("lab: waiting for %s to be up: %w", p, ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upErr
}

// UpAt is when the party came up (zero if not yet).
func (p *Party) UpAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upErr != nil {
		return time.Time{}
	}
	return p.upAt
}

// WaitEnded waits until the party's channel is gone on the peer.
func (p *Party) WaitEnded(ctx context.Context) error {
	select {
	case <-p.ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lab: waiting for %s to end: %w", p, ctx.Err())
	}
}

// Ended reports whether the party's channel is gone.
func (p *Party) Ended() bool {
	select {
	case <-p.ended:
		return true
	default:
		return false
	}
}

// Bridge is the party's bridge on the peer ("" before it is up).
func (p *Party) Bridge() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bridgeID
}

// Digits is every DTMF digit this party received (RFC 4733, through the PBX).
func (p *Party) Digits() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.digits.String()
}

// WaitDigits waits until the digits this party received contain want.
func (p *Party) WaitDigits(ctx context.Context, want string) error {
	for {
		p.mu.Lock()
		got, ch := p.digits.String(), p.changed
		p.mu.Unlock()
		if strings.Contains(got, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: %s waiting for DTMF %q (got %q): %w", p, want, got, ctx.Err())
		case <-ch:
		}
	}
}

// SendDTMF sends digits as RFC 4733 events from this party to the PBX. Asterisk queues
// them and answers at once; they take (DTMFDuration+DTMFBetween) per digit to go out.
// With wait, SendDTMF returns only after that time.
func (p *Party) SendDTMF(ctx context.Context, digits string, wait bool) error {
	q := url.Values{
		"dtmf":     {digits},
		"duration": {strconv.Itoa(int(p.d.cfg.DTMFDuration / time.Millisecond))},
		"between":  {strconv.Itoa(int(p.d.cfg.DTMFBetween / time.Millisecond))},
	}
	if err := p.d.c.Do(ctx, http.MethodPost, "/channels/"+p.ChannelID+"/dtmf", q, nil, nil); err != nil {
		return fmt.Errorf("lab: DTMF %q from %s: %w", digits, p, err)
	}
	if wait {
		d := time.Duration(len(digits)) * (p.d.cfg.DTMFDuration + p.d.cfg.DTMFBetween)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Refer sends a SIP REFER from this party to the PBX (ARI redirect on the peer): a blind
// transfer of its call to target, an extension or an external number as the phone would
// dial it (e.g. "1003" or "94930123456"). The PBX does not hang up the transferring leg
// after a REFER (a phone does that on the NOTIFY 200); see BlindTransfer.
func (p *Party) Refer(ctx context.Context, target string) error {
	q := url.Values{"endpoint": {"PJSIP/sip:" + target + "@" + p.d.cfg.PBXSIP}}
	if err := p.d.c.Do(ctx, http.MethodPost, "/channels/"+p.ChannelID+"/redirect", q, nil, nil); err != nil {
		return fmt.Errorf("lab: REFER %s to %s: %w", p, target, err)
	}
	return nil
}

// BlindTransfer is what a phone does: REFER, then hang up its own leg once the PBX took
// the transfer (after DriverConfig.ReferHangupDelay; the peer's ARI does not report the
// NOTIFY).
func (p *Party) BlindTransfer(ctx context.Context, target string) error {
	if err := p.Refer(ctx, target); err != nil {
		return err
	}
	select {
	case <-time.After(p.d.cfg.ReferHangupDelay):
	case <-p.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.Hangup(ctx)
}

// Transfer blind-transfers this party's call to target (an extension, or an external
// number with its outside-line prefix, "95551234") the way a phone would: "refer" (SIP
// REFER, then the phone hangs up: BlindTransfer) or "dtmf" (#1 and the number, Asterisk's
// blind transfer feature; Asterisk hangs the transferer up). It returns once the REFER
// is sent or the digits are queued.
func (p *Party) Transfer(ctx context.Context, method, target string) error {
	switch method {
	case "refer":
		return p.BlindTransfer(ctx, target)
	case "dtmf":
		return p.SendDTMF(ctx, "#1"+target, false)
	}
	return fmt.Errorf("lab: transfer method %q (want refer or dtmf)", method)
}

// Hangup hangs up this party (a channel already gone is not an error).
func (p *Party) Hangup(ctx context.Context) error {
	err := p.d.c.Do(ctx, http.MethodDelete, "/channels/"+p.ChannelID, nil, nil, nil)
	if err != nil && !IsStatus(err, http.StatusNotFound) {
		return fmt.Errorf("lab: hang up %s: %w", p, err)
	}
	return nil
}
