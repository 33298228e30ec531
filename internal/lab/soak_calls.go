package lab

// The soak's call mix, as the lab's phones and carrier make the calls: automatic
// recording (inbound, internal, outbound), *3, *48/*49, and blind transfers (SIP REFER
// or #1) to an internal and to an external number. Each call notes the moments the
// reconciliation needs (answer, *3, pause, transfer, end) and how the PBX knows it
// (the linkedid the callee phone got as X-Session-Id, or its unique external number).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Call kinds of the soak.
const (
	KindInbound      = "inbound"       // carrier -> 1001/1002 (recorded: incoming external)
	KindInternal     = "internal"      // 1001 -> 1002, 1002 -> 1003 (recorded: outgoing internal)
	KindOutbound     = "outbound"      // 1001/1002 -> external (recorded: outgoing external)
	KindStar3        = "star3"         // 1003 -> 1004 (not recorded) until 1003 dials *3
	KindPause        = "pause"         // 1001 -> 1002, *48 ... *49 (one file, the pause left out)
	KindXferInternal = "xfer_internal" // carrier -> 1001/1002, transferred to 1003/1004 (one recording goes on)
	KindXferExternal = "xfer_external" // carrier -> 1001/1002, transferred out (external_to_external)
)

var kindWeights = []struct {
	kind string
	w    int
}{{KindInbound, 2}, {KindInternal, 2}, {KindOutbound, 2}, {KindStar3, 1}, {KindPause, 1}, {KindXferInternal, 1}, {KindXferExternal, 1}}

// soakCall is one call as the driver placed it.
type soakCall struct {
	Seq      int
	Kind     string
	From     string // the calling party ("carrier" or a phone)
	To       string // the number first called (phone, or external number)
	Target   string // transfer target (xfer kinds)
	Method   string // transfer method: refer or dtmf
	Number   string // unique external number (outbound, xfer_external)
	CallerID string // carrier's caller number
	ConvID   string // linkedid (X-Session-Id at the callee phone)
	always   []string
	absent   []string

	mu                           sync.Mutex
	Placed, Up, RecStart, RecEnd time.Time
	Paused, Resumed, Transferred time.Time
	Ended                        time.Time
	Dropped                      bool      // the PBX ended it (restart)
	dropAt                       time.Time // when
	Err                          string
	drop                         chan struct{} // closed by a PBX restart
	dropOnce                     sync.Once
	verified                     bool
	res                          callResult
}

func (c *soakCall) set(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

func (c *soakCall) markDropped(at time.Time) {
	c.dropOnce.Do(func() {
		c.set(func() {
			if c.Ended.IsZero() {
				c.Dropped, c.dropAt = true, at
			}
		})
		close(c.drop)
	})
}

func pickKind(rng *rand.Rand) string {
	total := 0
	for _, k := range kindWeights {
		total += k.w
	}
	n := rng.IntN(total)
	for _, k := range kindWeights {
		if n < k.w {
			return k.kind
		}
		n -= k.w
	}
	return KindInbound
}

// worker places calls one after the other until the placing time is over.
func (s *soak) worker(ctx context.Context, w int, rng *rand.Rand) {
	// spread the first calls over the first seconds
	if sleepCtx(ctx, time.Duration(w)*min(10*time.Second, s.o.TalkMin)/time.Duration(s.o.Calls)) != nil {
		return
	}
	for ctx.Err() == nil && time.Now().Before(s.placeUntil) {
		s.mu.Lock()
		s.seq++
		c := &soakCall{Seq: s.seq, Kind: pickKind(rng), Method: []string{"refer", "dtmf"}[rng.IntN(2)], drop: make(chan struct{})}
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		talk := between(rng, s.o.TalkMin, s.o.TalkMax)
		if err := s.play(ctx, c, rng, talk); err != nil {
			c.set(func() {
				c.Err = err.Error()
				if c.Ended.IsZero() {
					c.Ended = time.Now()
				}
				if c.RecEnd.IsZero() {
					c.RecEnd = c.Ended
				}
			})
		}
		c.mu.Lock()
		up := !c.Up.IsZero()
		c.mu.Unlock()
		if !up { // not set up (PBX down?): do not spin
			_ = sleepCtx(ctx, time.Second)
		}
	}
}

func (s *soak) pairLock(from, to string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := from + ">" + to
	if s.pairLocks[k] == nil {
		s.pairLocks[k] = &sync.Mutex{}
	}
	return s.pairLocks[k]
}

func digitsSuffix(n string) string { return strings.TrimLeft(n, "+") }

// play sets the call up, plays it out and hangs up (or notes that the PBX dropped it).
func (s *soak) play(ctx context.Context, c *soakCall, rng *rand.Rand, talk time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, talk+90*time.Second)
	defer cancel()
	phone := []string{"1001", "1002"}[rng.IntN(2)]
	c.CallerID = fmt.Sprintf("+49151%08d", c.Seq)
	c.Number = fmt.Sprintf("555%05d", c.Seq%100000)
	c.set(func() { c.Placed = time.Now() })
	var caller, callee *Party
	var err error
	switch c.Kind {
	case KindInbound, KindXferInternal, KindXferExternal:
		c.From, c.To = ToneCarrier, phone
		c.always = []string{ToneCarrier, phone}
		caller, callee, err = s.setUp(ctx, c, func() (*Party, error) { return s.drv.CallFromCarrier(ctx, c.CallerID, "4930555"+phone) },
			func(p *Party) bool {
				return p.Exten == phone && strings.HasSuffix(p.Caller.Number, digitsSuffix(c.CallerID))
			})
	case KindOutbound:
		c.From, c.To = phone, c.Number
		c.always = []string{phone, ToneExternal}
		caller, callee, err = s.setUp(ctx, c, func() (*Party, error) { return s.drv.CallExternal(ctx, phone, c.Number) },
			func(p *Party) bool { return p.Exten == c.Number })
	default: // phone to phone
		c.From, c.To = "1001", "1002"
		switch {
		case c.Kind == KindStar3:
			c.From, c.To = "1003", "1004"
		case c.Kind == KindInternal && rng.IntN(2) == 1:
			c.From, c.To = "1002", "1003"
		}
		c.always = []string{c.From, c.To}
		l := s.pairLock(c.From, c.To) // calls between the same phones are told apart by order
		l.Lock()
		caller, callee, err = s.setUp(ctx, c, func() (*Party, error) { return s.drv.CallPhone(ctx, c.From, c.To) },
			func(p *Party) bool { return p.Exten == c.To && p.Caller.Number == c.From })
		l.Unlock()
	}
	defer func() { // whatever happened, nothing of this call stays up
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer hcancel()
		for _, p := range []*Party{caller, callee} {
			if p != nil {
				_ = p.Hangup(hctx)
			}
		}
	}()
	if err != nil {
		return err
	}
	if err := callee.WaitUp(ctx); err != nil {
		return err
	}
	if err := caller.WaitUp(ctx); err != nil {
		return err
	}
	if callee.Exten[0] == '1' {
		c.ConvID, _ = callee.SessionID(ctx)
	}
	up := callee.UpAt()
	c.set(func() { c.Up, c.RecStart = up, up })
	if c.Kind == KindStar3 {
		c.set(func() { c.RecStart = time.Time{} })
	}
	deadline := up.Add(talk)
	// talk waits d unless the call is dropped (PBX restart) or ends
	talkFor := func(d time.Duration) bool {
		wctx, wcancel := context.WithTimeout(ctx, d)
		defer wcancel()
		go func() {
			select {
			case <-c.drop:
				wcancel()
			case <-wctx.Done():
			}
		}()
		if caller.WaitEnded(wctx) == nil {
			return false
		}
		select {
		case <-c.drop:
			return false
		default:
		}
		return ctx.Err() == nil
	}
	ok := true
	switch c.Kind {
	case KindStar3:
		if ok = talkFor(1500 * time.Millisecond); ok {
			if err := caller.SendDTMF(ctx, "*3", true); err != nil {
				return err
			}
			c.set(func() { c.RecStart = time.Now() })
			ok = talkFor(time.Until(deadline))
		}
	case KindPause:
		if ok = talkFor(talk / 3); ok {
			if err := caller.SendDTMF(ctx, "*48", true); err != nil {
				return err
			}
			c.set(func() { c.Paused = time.Now() })
			if ok = talkFor(between(rng, 2*time.Second, 4*time.Second)); ok {
				if err := caller.SendDTMF(ctx, "*49", true); err != nil {
					return err
				}
				c.set(func() { c.Resumed = time.Now() })
				ok = talkFor(time.Until(deadline))
			}
		}
	case KindXferInternal, KindXferExternal:
		ok, err = s.transfer(ctx, c, callee, talkFor, max(12*time.Second, talk/2), deadline)
		if err != nil {
			return err
		}
	default:
		ok = talkFor(time.Until(deadline))
	}
	end := time.Now()
	c.mu.Lock()
	if !c.dropAt.IsZero() && c.dropAt.Before(end) {
		end = c.dropAt
	}
	c.mu.Unlock()
	if ok {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = caller.Hangup(hctx)
		_ = caller.WaitEnded(hctx)
		hcancel()
	}
	c.set(func() {
		if !ok {
			c.Dropped = true
		}
		c.Ended = end
		if c.RecEnd.IsZero() {
			c.RecEnd = end
		}
	})
	return nil
}

// setUp places the call and finds its callee on the peer (match tells it apart from
// every other call ringing there).
func (s *soak) setUp(ctx context.Context, c *soakCall, place func() (*Party, error), match func(*Party) bool) (*Party, *Party, error) {
	caller, err := place()
	if err != nil {
		return nil, nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	callee, err := s.drv.IncomingMatch(ictx, fmt.Sprintf("call %d (%s) at %s", c.Seq, c.Kind, c.To), match)
	return caller, callee, err
}

// transfer: after first, the called phone transfers the carrier to an internal phone or
// an external number, who answers; the call goes on until deadline (at least 5 s more).
func (s *soak) transfer(ctx context.Context, c *soakCall, phone *Party, talkFor func(time.Duration) bool, first time.Duration, deadline time.Time) (bool, error) {
	if !talkFor(first) {
		return false, nil
	}
	target, dial := c.Number, "9"+c.Number
	if c.Kind == KindXferInternal {
		target = []string{"1003", "1004"}[c.Seq%2]
		dial = target
		c.Target = target
		c.always = []string{ToneCarrier}
	} else {
		c.Target = c.Number
		c.absent = []string{ToneExternal}
	}
	c.set(func() { c.Transferred = time.Now() })
	if err := phone.Transfer(ctx, c.Method, dial); err != nil {
		return false, err
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	third, err := s.drv.IncomingMatch(ictx, fmt.Sprintf("call %d transferred to %s", c.Seq, target), func(p *Party) bool {
		return p.Exten == target && (target[0] != '1' || strings.HasSuffix(p.Caller.Number, digitsSuffix(c.CallerID)))
	})
	if err != nil {
		return false, fmt.Errorf("transfer target: %w", err)
	}
	defer func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer hcancel()
		_ = third.Hangup(hctx)
	}()
	if c.Kind == KindXferExternal {
		// only outsiders remain once the PBX dials out: the recording ends there
		c.set(func() { c.RecEnd = third.Created })
	}
	if err := third.WaitUp(ctx); err != nil {
		return false, fmt.Errorf("transfer target: %w", err)
	}
	if c.Kind == KindXferExternal {
		return talkFor(2 * time.Second), nil
	}
	return talkFor(max(5*time.Second, time.Until(deadline))), nil
}
