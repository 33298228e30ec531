package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tone keys besides the phone numbers in DriverConfig.Tones.
const (
	// ToneCarrier is the tone of calls placed by the outside world (CallFromCarrier).
	ToneCarrier = "carrier"
	// ToneExternal is the tone of external numbers answering calls from the PBX.
	ToneExternal = "external"
)

// DefaultTones: every party of the lab plays its own frequency so a recording tells who
// was audible. Multiples of 200 Hz, away from each other's harmonics' neighbourhood.
func DefaultTones() map[string]int {
	return map[string]int{
		"1001":       400,
		"1002":       600,
		"1003":       800,
		"1004":       1000,
		ToneCarrier:  1400,
		ToneExternal: 1800,
	}
}

// DriverConfig configures the peer-side driver. DefaultDriverConfig matches
// testdata/asterisk/peer.
type DriverConfig struct {
	URL            string // peer ARI, "http://127.0.0.1:8089"
	User, Password string
	App            string         // Stasis app of the peer dialplan, "driver"
	Tones          map[string]int // party -> Hz; see DefaultTones
	PBXSIP         string         // host:port of the PBX for REFER targets, "127.0.0.1:5060"
	RequestTimeout time.Duration  // per ARI request
	DTMFDuration   time.Duration  // per digit (RFC 4733 event length)
	DTMFBetween    time.Duration  // gap between digits
	// ReferHangupDelay: BlindTransfer hangs up the transferring leg this long after its
	// REFER, as a phone does on the NOTIFY 200.
	ReferHangupDelay time.Duration
}

// DefaultDriverConfig is the peer of scripts/asterisk-lab.
func DefaultDriverConfig() DriverConfig {
	return DriverConfig{
		URL:            "http://127.0.0.1:8089",
		User:           "driver",
		Password:       "secret",
		App:            "driver",
		Tones:          DefaultTones(),
		PBXSIP:         "127.0.0.1:5060",
		RequestTimeout: DefaultRequestTimeout,
		DTMFDuration:   120 * time.Millisecond,
		DTMFBetween:    150 * time.Millisecond,
		// a phone hangs up on the NOTIFY 200, which the PBX sends within milliseconds
		ReferHangupDelay: 300 * time.Millisecond,
	}
}

// Direction of a peer-side party.
type Direction string

const (
	Outgoing Direction = "outgoing" // placed by the driver (the party calls the PBX)
	Incoming Direction = "incoming" // sent by the PBX to the peer (the party is called)
)

// Answer is how the driver treats an incoming call for one dialled number.
type Answer struct {
	Delay time.Duration // ring this long first
	Never bool          // never answer (e.g. the ring-group member that must not pick up)
}

// Driver drives the lab's peer Asterisk: it plays the phones 1001..1004, the carrier
// (callers from outside) and every external number the PBX calls. Every answered party
// sits in its own mixing bridge on the peer playing its tone continuously (a tone played
// on the channel itself would block the channel's ARI commands, e.g. DTMF).
type Driver struct {
	cfg    DriverConfig
	c      *Client
	ev     *EventStream
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	parties map[string]*Party // by peer channel id
	unclaim []*Party          // incoming parties not yet returned by Incoming
	answer  map[string]Answer // by dialled number
	changed chan struct{}
	loopErr error
	closed  bool
}

// NewDriver connects the driver app's websocket on the peer and starts answering calls.
// ctx bounds the connect only.
func NewDriver(ctx context.Context, cfg DriverConfig) (*Driver, error) {
	def := DefaultDriverConfig()
	if cfg.URL == "" {
		cfg.URL = def.URL
	}
	if cfg.User == "" {
		cfg.User, cfg.Password = def.User, def.Password
	}
	if cfg.App == "" {
		cfg.App = def.App
	}
	if cfg.Tones == nil {
		cfg.Tones = def.Tones
	}
	if cfg.PBXSIP == "" {
		cfg.PBXSIP = def.PBXSIP
	}
	if cfg.DTMFDuration <= 0 {
		cfg.DTMFDuration = def.DTMFDuration
	}
	if cfg.DTMFBetween <= 0 {
		cfg.DTMFBetween = def.DTMFBetween
	}
	if cfg.ReferHangupDelay <= 0 {
		cfg.ReferHangupDelay = def.ReferHangupDelay
	}
	host, _, err := splitHostPort(cfg.PBXSIP)
	if err != nil {
		return nil, fmt.Errorf("lab: PBXSIP %q: %w", cfg.PBXSIP, err)
	}
	if err := checkLoopback(host); err != nil {
		return nil, err
	}
	c, err := NewClient(cfg.URL, cfg.User, cfg.Password, cfg.RequestTimeout)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		return nil, fmt.Errorf("lab: peer ARI %s not answering (is the lab up? scripts/asterisk-lab up): %w", cfg.URL, err)
	}
	ev, err := DialEvents(ctx, c.EventsURL(cfg.App, false), &http.Client{Transport: c.hc.Transport})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(context.Background())
	d := &Driver{
		cfg: cfg, c: c, ev: ev, ctx: dctx, cancel: cancel,
		parties: map[string]*Party{}, answer: map[string]Answer{}, changed: make(chan struct{}),
	}
	d.wg.Add(1)
	go d.loop()
	return d, nil
}

// Client is the peer's ARI REST client (for anything the driver does not wrap).
func (d *Driver) Client() *Client { return d.c }

// Events is the driver app's event stream on the peer.
func (d *Driver) Events() *EventStream { return d.ev }

// SetAnswer sets how incoming calls for the dialled number are answered (default: at once).
func (d *Driver) SetAnswer(number string, a Answer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answer[number] = a
}

// Close hangs up every party still up (bounded), removes the driver's bridges and closes
// the websocket.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var live []*Party
	for _, p := range d.parties {
		if !p.Ended() {
			live = append(live, p)
		}
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, p := range live {
		if err := p.Hangup(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range live {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		_ = p.WaitEnded(wctx)
		wcancel()
		if b := p.Bridge(); b != "" {
			if err := d.c.Do(ctx, http.MethodDelete, "/bridges/"+b, nil, nil, nil); err != nil && !IsStatus(err, http.StatusNotFound) {
				errs = append(errs, err)
			}
		}
	}
	d.cancel()
	errs = append(errs, d.ev.Close())
	d.wg.Wait()
	d.c.CloseIdle()
	return errors.Join(errs...)
}

// Err is why the driver's event loop stopped, if it did.
func (d *Driver) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loopErr
}

// Parties returns every party the driver has seen.
func (d *Driver) Parties() []*Party {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Party, 0, len(d.parties))
	for _, p := range d.parties {
		out = append(out, p)
	}
	return out
}

// CallPhone has phone `from` (1001..1004) dial `number` on the PBX: an extension, 600
// (queue), 700 (ring group), *26, or an external number (9<number> or +<number>).
// It returns the calling party at once; WaitUp waits for the answer.
func (d *Driver) CallPhone(ctx context.Context, from, number string) (*Party, error) {
	return d.Originate(ctx, from, "PJSIP/"+number+"@as"+from, number, "")
}

// CallExternal has phone `from` call an external number through the carrier trunk
// ("+49..." as is, anything else with the outside-line prefix 9).
func (d *Driver) CallExternal(ctx context.Context, from, number string) (*Party, error) {
	if !strings.HasPrefix(number, "+") {
		number = "9" + number
	}
	return d.CallPhone(ctx, from, number)
}

// CallFromCarrier has the outside world (caller id callerNumber) call the PBX's DID
// (e.g. 49305551001 -> 1001, 49305550600 -> queue support, 49305550700 -> group sales).
func (d *Driver) CallFromCarrier(ctx context.Context, callerNumber, did string) (*Party, error) {
	cid := ""
	if callerNumber != "" {
		cid = fmt.Sprintf("%q <%s>", callerNumber, callerNumber)
	}
	return d.Originate(ctx, ToneCarrier, "PJSIP/"+did+"@carrier-out", did, cid)
}

// Originate places a call from the peer: endpoint is a peer dial string, name the party
// (selects its tone), callerID optional ("Name <number>").
func (d *Driver) Originate(ctx context.Context, name, endpoint, dialled, callerID string) (*Party, error) {
	id := "lab-" + randomID()
	p := d.newParty(name, Outgoing, id, dialled)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("lab: driver closed")
	}
	d.parties[id] = p
	d.mu.Unlock()
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("app", d.cfg.App)
	q.Set("appArgs", "outgoing,"+name)
	q.Set("channelId", id)
	q.Set("timeout", "30")
	if callerID != "" {
		q.Set("callerId", callerID)
	}
	if err := d.c.Do(ctx, http.MethodPost, "/channels", q, nil, nil); err != nil {
		d.mu.Lock()
		delete(d.parties, id)
		d.mu.Unlock()
		return nil, fmt.Errorf("lab: call %s from %s: %w", dialled, name, err)
	}
	return p, nil
}

// Incoming returns the next incoming party (in arrival order) the PBX sent to `number`
// (a phone 100X, or the external number the carrier trunk was asked to call), waiting
// until ctx ends. Each party is returned once; parties that ended unclaimed are skipped.
func (d *Driver) Incoming(ctx context.Context, number string) (*Party, error) {
	return d.IncomingMatch(ctx, "incoming call to "+number, func(p *Party) bool { return p.Exten == number })
}

// IncomingMatch is Incoming with a predicate.
func (d *Driver) IncomingMatch(ctx context.Context, what string, match func(*Party) bool) (*Party, error) {
	for {
		d.mu.Lock()
		// calls that ended before anyone asked for them are of no use to anyone
		kept := d.unclaim[:0]
		for _, p := range d.unclaim {
			if !p.Ended() {
				kept = append(kept, p)
			}
		}
		clear(d.unclaim[len(kept):])
		d.unclaim = kept
		for i, p := range d.unclaim {
			if match(p) {
				d.unclaim = append(d.unclaim[:i], d.unclaim[i+1:]...)
				d.mu.Unlock()
				return p, nil
			}
		}
		ch, lerr := d.changed, d.loopErr
		d.mu.Unlock()
		if lerr != nil {
			return nil, fmt.Errorf("lab: waiting for %s: %w", what, lerr)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lab: waiting for %s: %w", what, ctx.Err())
		case <-ch:
		}
	}
}

func (d *Driver) notify() { // d.mu held
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Driver) newParty(name string, dir Direction, chanID, exten string) *Party {
	tone, ok := d.cfg.Tones[name]
	if !ok {
		tone = d.cfg.Tones[ToneExternal]
	}
	return &Party{
		d: d, Name: name, Direction: dir, ChannelID: chanID, Exten: exten, Tone: tone,
		Created: time.Now(), up: make(chan struct{}), ended: make(chan struct{}), changed: make(chan struct{}),
	}
}

func (d *Driver) loop() {
	defer d.wg.Done()
	for i := 0; ; i++ {
		ev, err := d.ev.Next(d.ctx, i)
		if err != nil {
			d.mu.Lock()
			d.loopErr = err
			d.notify()
			live := make([]*Party, 0, len(d.parties))
			for _, p := range d.parties {
				live = append(live, p)
			}
			d.mu.Unlock()
			for _, p := range live {
				p.markUp(fmt.Errorf("lab: driver stopped: %w", err))
			}
			return
		}
		d.handle(ev)
	}
}

func (d *Driver) handle(ev Event) {
	id := ev.ChannelID()
	d.mu.Lock()
	p := d.parties[id]
	d.mu.Unlock()
	switch ev.Type {
	case "StasisStart":
		if len(ev.Args) > 0 && ev.Args[0] == "incoming" && p == nil {
			exten := ev.Channel.Dialplan.Exten
			if len(ev.Args) > 1 {
				exten = ev.Args[1]
			}
			p = d.newParty(exten, Incoming, id, exten)
			p.Caller = ev.Channel.Caller
			d.mu.Lock()
			d.parties[id] = p
			d.unclaim = append(d.unclaim, p)
			a := d.answer[exten]
			d.notify()
			d.mu.Unlock()
			if a.Never {
				return
			}
			d.spawn(func() { d.setup(p, true, a.Delay) })
			return
		}
		if p != nil && p.Direction == Outgoing {
			d.spawn(func() { d.setup(p, false, 0) })
		}
	case "ChannelDtmfReceived":
		if p != nil {
			p.addDigit(ev.Digit)
		}
	case "StasisEnd", "ChannelDestroyed":
		if p != nil {
			p.markEnded(ev.Cause)
			if b := p.Bridge(); b != "" {
				d.spawn(func() {
					ctx, cancel := context.WithTimeout(d.ctx, d.c.timeout)
					defer cancel()
					_ = d.c.Do(ctx, http.MethodDelete, "/bridges/"+b, nil, nil, nil)
				})
			}
		}
	}
}

func (d *Driver) spawn(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

// setup answers (incoming), then puts the party into its own mixing bridge playing its tone.
func (d *Driver) setup(p *Party, answer bool, delay time.Duration) {
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-p.ended:
			p.markUp(errors.New("lab: call ended while ringing"))
			return
		case <-d.ctx.Done():
			p.markUp(d.ctx.Err())
			return
		}
	}
	ctx := d.ctx
	if answer {
		if err := d.c.Do(ctx, http.MethodPost, "/channels/"+p.ChannelID+"/answer", nil, nil, nil); err != nil {
			p.markUp(err)
			return
		}
	}
	bridge := "lab-b-" + p.ChannelID
	q := url.Values{"type": {"mixing"}, "bridgeId": {bridge}, "name": {"lab " + p.Name}}
	if err := d.c.Do(ctx, http.MethodPost, "/bridges", q, nil, nil); err != nil {
		p.markUp(err)
		return
	}
	p.mu.Lock()
	p.bridgeID = bridge
	p.mu.Unlock()
	if err := d.c.Do(ctx, http.MethodPost, "/bridges/"+bridge+"/addChannel", url.Values{"channel": {p.ChannelID}}, nil, nil); err != nil {
		p.markUp(err)
		return
	}
	if p.Tone > 0 {
		q := url.Values{"media": {"tone:" + strconv.Itoa(p.Tone) + "/2000"}}
		if err := d.c.Do(ctx, http.MethodPost, "/bridges/"+bridge+"/play", q, nil, nil); err != nil {
			p.markUp(err)
			return
		}
	}
	p.markUp(nil)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func splitHostPort(hp string) (string, string, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return hp, "", nil
	}
	return hp[:i], hp[i+1:], nil
}
