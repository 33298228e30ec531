package lab

// The soak's eyes: the PBX's own view of its recordings (an observer app on the PBX's
// ARI, straight to Asterisk, not through callrecd's proxy, reconnecting after a PBX
// restart), callrecd's REST API (CDRs with their recordings, /readyz), and a prober
// that asks the API every 100 ms and counts what fails.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// pbxRec is one recording name as the PBX reported it (a re-armed recording appends to
// the same name, so a name may start several times).
type pbxRec struct {
	Name              string
	First, LastChange time.Time
	Live              int // started minus finished
	Parts             int
	Failed            bool
	Inferred          bool // an end the observer missed (it was disconnected), found by asking
}

type pbxObserver struct {
	mu         sync.Mutex
	recs       map[string]*pbxRec
	up         bool
	upCh       chan struct{}
	reconnects int
}

func newPBXObserver() *pbxObserver {
	return &pbxObserver{recs: map[string]*pbxRec{}, upCh: make(chan struct{})}
}

const observerApp = "callrecd-soak"

// run keeps the observer connected until ctx ends.
func (o *pbxObserver) run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		p, err := ConnectPBX(ctx, PBXConfig{App: observerApp, SubscribeAll: true, RequestTimeout: 3 * time.Second})
		if err != nil {
			_ = sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		allowed := []map[string]string{{"type": "RecordingStarted"}, {"type": "RecordingFinished"}, {"type": "RecordingFailed"}}
		if err := p.Do(ctx, http.MethodPut, "/applications/"+observerApp+"/eventFilter", nil, map[string]any{"allowed": allowed}, nil); err != nil {
			p.Close()
			_ = sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		o.resolveStale(ctx, p)
		o.mu.Lock()
		o.up = true
		if first {
			close(o.upCh)
			first = false
		} else {
			o.reconnects++
		}
		o.mu.Unlock()
		for i := 0; ; i++ {
			ev, err := p.Events.Next(ctx, i)
			if err != nil {
				break
			}
			o.handle(ev)
		}
		o.mu.Lock()
		o.up = false
		o.mu.Unlock()
		p.Close()
	}
}

func (o *pbxObserver) waitUp(ctx context.Context, within time.Duration) error {
	select {
	case <-o.upCh:
		return nil
	case <-time.After(within):
		return errors.New("lab: soak: the PBX observer did not connect")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *pbxObserver) handle(ev Event) {
	if ev.Recording == nil || ev.Recording.Name == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recs[ev.Recording.Name]
	if r == nil {
		r = &pbxRec{Name: ev.Recording.Name, First: ev.Received}
		o.recs[r.Name] = r
	}
	r.LastChange = ev.Received
	switch ev.Type {
	case "RecordingStarted":
		r.Live++
		r.Parts++
	case "RecordingFailed":
		r.Failed = true
		r.Live = max(0, r.Live-1)
	case "RecordingFinished":
		r.Live = max(0, r.Live-1)
	}
}

// resolveStale asks the PBX about every name still live when the observer lost its
// websocket: a name the PBX no longer records has ended meanwhile.
func (o *pbxObserver) resolveStale(ctx context.Context, p *PBX) {
	o.mu.Lock()
	var live []string
	for n, r := range o.recs {
		if r.Live > 0 {
			live = append(live, n)
		}
	}
	o.mu.Unlock()
	for _, n := range live {
		err := p.Do(ctx, http.MethodGet, "/recordings/live/"+url.PathEscape(n), nil, nil, nil)
		if IsStatus(err, http.StatusNotFound) {
			o.mu.Lock()
			r := o.recs[n]
			r.Live, r.Inferred, r.LastChange = 0, true, time.Now()
			o.mu.Unlock()
		}
	}
}

// snapshot copies every recording the PBX reported.
func (o *pbxObserver) snapshot() map[string]pbxRec {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]pbxRec, len(o.recs))
	for n, r := range o.recs {
		out[n] = *r
	}
	return out
}

// soakAPI is callrecd's REST API with a system token.
type soakAPI struct {
	base, token string
	hc          *http.Client
}

func newSoakAPI(base, token string) *soakAPI {
	return &soakAPI{base: base, token: token, hc: &http.Client{Timeout: 5 * time.Second}}
}

// apiCDR and apiRecording are the parts of /cdr the soak reads.
type apiCDR struct {
	ID                   int64          `json:"id"`
	ConversationID       *string        `json:"conversation_id"`
	Start                string         `json:"start"`
	End                  *string        `json:"end"`
	SourceExtension      string         `json:"source_extension"`
	DestinationExtension string         `json:"destination_extension"`
	RequestedExtension   string         `json:"requested_extension"`
	Recordings           []apiRecording `json:"recordings"`
}

type apiRecording struct {
	UUID            string  `json:"uuid"`
	StartTime       string  `json:"start_time"`
	EndTime         *string `json:"end_time"`
	Filename        string  `json:"filename"`
	State           string  `json:"state"`
	StartedBy       string  `json:"started_by"`
	StopReason      *string `json:"stop_reason"`
	FailureReason   *string `json:"failure_reason"`
	PausedIntervals []struct {
		Start string  `json:"start"`
		End   *string `json:"end"`
	} `json:"paused_intervals"`
	Format   string  `json:"format"`
	Size     int64   `json:"size"`
	Duration float64 `json:"duration"`
	SHA256   *string `json:"sha256"`
}

func (r apiRecording) live() bool { return recording.State(r.State).Live() }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// span is how long the row says audio was recorded: end - start - paused.
func (r apiRecording) span() time.Duration {
	st, e := parseAPITime(r.StartTime), parseAPITime(deref(r.EndTime))
	if st.IsZero() || e.IsZero() {
		return 0
	}
	d := e.Sub(st)
	for _, p := range r.PausedIntervals {
		if ps, pe := parseAPITime(p.Start), parseAPITime(deref(p.End)); !ps.IsZero() && !pe.IsZero() {
			d -= pe.Sub(ps)
		}
	}
	return d
}

func parseAPITime(s string) time.Time {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func (a *soakAPI) get(ctx context.Context, path string, q url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, a.hc.Timeout)
	defer cancel()
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", a.token)
	req.Header.Set("Wazo-Tenant", DemoTenant)
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// cdrs lists every call that started at or after from, with its recordings.
func (a *soakAPI) cdrs(ctx context.Context, from time.Time) ([]apiCDR, error) {
	var all []apiCDR
	for offset := 0; offset < 1_000_000; {
		var page struct {
			Items []apiCDR `json:"items"`
		}
		q := url.Values{"limit": {"1000"}, "offset": {strconv.Itoa(offset)}, "order": {"start"}, "direction": {"asc"},
			"from": {from.UTC().Format(time.RFC3339Nano)}}
		if err := a.get(ctx, "/api/call-logd/1.0/cdr", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if len(page.Items) < 1000 {
			break
		}
		offset += len(page.Items)
	}
	return all, nil
}

// ready: /readyz answers 200.
func (a *soakAPI) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/readyz", nil)
	resp, err := a.hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady polls /readyz every 20 ms (at most within) and says when it answered 200.
func (a *soakAPI) waitReady(ctx context.Context, within time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if a.ready(ctx) {
			return time.Now(), true
		}
		_ = sleepCtx(ctx, 20*time.Millisecond)
	}
	return time.Time{}, false
}

// prober asks GET /cdr?limit=1 every 100 ms (1 s timeout) and counts the failures,
// apart from those while callrecd was killed on purpose.
type prober struct {
	api  *soakAPI
	down func() bool

	mu                     sync.Mutex
	probes, errs, errsDown int
	samples                []string
}

func (p *prober) run(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	api := &soakAPI{base: p.api.base, token: p.api.token, hc: hc}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wasDown := p.down()
		err := api.get(ctx, "/api/call-logd/1.0/cdr", url.Values{"limit": {"1"}}, nil)
		if ctx.Err() != nil {
			return
		}
		down := wasDown || p.down()
		p.mu.Lock()
		p.probes++
		if err != nil {
			if down {
				p.errsDown++
			} else {
				p.errs++
				if len(p.samples) < 20 {
					p.samples = append(p.samples, time.Now().Format("15:04:05.000")+" "+err.Error())
				}
			}
		}
		p.mu.Unlock()
	}
}

func (p *prober) counts() (probes, errs, errsDown int, samples []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes, p.errs, p.errsDown, append([]string(nil), p.samples...)
}
