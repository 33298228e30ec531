package lab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PBXConfig configures the PBX-side helper. DefaultPBXConfig matches testdata/asterisk/pbx.
type PBXConfig struct {
	URL            string // PBX ARI, "http://127.0.0.1:8088"
	User, Password string
	// App is the Stasis app the events websocket registers. "callrecd" is the app of the
	// dialplan (*26) and the one snoops must name; a test that runs callrecd itself next
	// to this helper should observe with another name (e.g. "callrecd-observer"), as a
	// second websocket for the same app replaces the first (ApplicationReplaced).
	App          string
	SubscribeAll bool // every channel's events (what callrecd uses)
	// NoEvents skips the websocket (REST only).
	NoEvents       bool
	RequestTimeout time.Duration
}

// DefaultPBXConfig: ws://127.0.0.1:8088/ari/events?app=callrecd&subscribeAll=true as
// recorder:secret.
func DefaultPBXConfig() PBXConfig {
	return PBXConfig{
		URL: "http://127.0.0.1:8088", User: "recorder", Password: "secret",
		App: "callrecd", SubscribeAll: true, RequestTimeout: DefaultRequestTimeout,
	}
}

// PBX is a test's view of the lab PBX: its ARI REST client and (unless NoEvents) its
// events websocket.
type PBX struct {
	*Client
	Events *EventStream
	App    string
}

// ConnectPBX pings the PBX's ARI and connects its events websocket. ctx bounds the connect.
func ConnectPBX(ctx context.Context, cfg PBXConfig) (*PBX, error) {
	def := DefaultPBXConfig()
	if cfg.URL == "" {
		cfg.URL = def.URL
	}
	if cfg.User == "" {
		cfg.User, cfg.Password = def.User, def.Password
	}
	if cfg.App == "" {
		cfg.App = def.App
	}
	c, err := NewClient(cfg.URL, cfg.User, cfg.Password, cfg.RequestTimeout)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		return nil, fmt.Errorf("lab: PBX ARI %s not answering (is the lab up? scripts/asterisk-lab up): %w", cfg.URL, err)
	}
	p := &PBX{Client: c, App: cfg.App}
	if !cfg.NoEvents {
		p.Events, err = DialEvents(ctx, c.EventsURL(cfg.App, cfg.SubscribeAll), &http.Client{Transport: c.hc.Transport})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Close closes the events websocket.
func (p *PBX) Close() error {
	defer p.CloseIdle()
	if p.Events != nil {
		return p.Events.Close()
	}
	return nil
}

// Snoop creates a snoop channel on channelID (spy: in, out, both) into the helper's app.
func (p *PBX) Snoop(ctx context.Context, channelID, snoopID, spy string) (Channel, error) {
	q := url.Values{"spy": {spy}, "app": {p.App}}
	if snoopID != "" {
		q.Set("snoopId", snoopID)
	}
	var ch Channel
	err := p.Do(ctx, http.MethodPost, "/channels/"+channelID+"/snoop", q, nil, &ch)
	return ch, err
}

// Record starts recording channelID (a snoop) as name.format in the PBX's recording spool.
func (p *PBX) Record(ctx context.Context, channelID, name, format, ifExists string) (LiveRecording, error) {
	q := url.Values{"name": {name}, "format": {format}}
	if ifExists != "" {
		q.Set("ifExists", ifExists)
	}
	var rec LiveRecording
	err := p.Do(ctx, http.MethodPost, "/channels/"+channelID+"/record", q, nil, &rec)
	return rec, err
}

// StopRecording stops the live recording name.
func (p *PBX) StopRecording(ctx context.Context, name string) error {
	return p.Do(ctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil, nil)
}

// Hangup hangs up a PBX channel (already gone is not an error).
func (p *PBX) Hangup(ctx context.Context, channelID string) error {
	err := p.Do(ctx, http.MethodDelete, "/channels/"+channelID, nil, nil, nil)
	if IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// Channels lists the PBX's channels.
func (p *PBX) Channels(ctx context.Context) ([]Channel, error) {
	var chs []Channel
	err := p.Do(ctx, http.MethodGet, "/channels", nil, nil, &chs)
	return chs, err
}

// WaitChannel waits for the ChannelCreated event of a PJSIP channel of endpoint
// (e.g. "1002" or "carrier") whose id is not in skip, and returns the channel.
func (p *PBX) WaitChannel(ctx context.Context, endpoint string, skip ...string) (Channel, error) {
	ev, err := p.Events.WaitFor(ctx, "ChannelCreated of PJSIP/"+endpoint, func(e Event) bool {
		if e.Type != "ChannelCreated" || e.Channel == nil || e.Channel.Endpoint() != endpoint {
			return false
		}
		for _, s := range skip {
			if s == e.Channel.ID {
				return false
			}
		}
		return true
	})
	if err != nil {
		return Channel{}, err
	}
	return *ev.Channel, nil
}

// CheckUp pings both ARIs of the lab and says clearly what is missing.
func CheckUp(ctx context.Context) error {
	for _, a := range []struct{ name, url, user, pass string }{
		{"PBX", "http://127.0.0.1:8088", "recorder", "secret"},
		{"peer", "http://127.0.0.1:8089", "driver", "secret"},
	} {
		c, err := NewClient(a.url, a.user, a.pass, 2*time.Second)
		if err != nil {
			return err
		}
		err = c.Ping(ctx)
		c.CloseIdle()
		if err != nil {
			return fmt.Errorf("lab: the Asterisk lab is not up (%s ARI %s: %v): run `scripts/asterisk-lab install && scripts/asterisk-lab up` as root", a.name, a.url, err)
		}
	}
	return nil
}

// ASTRoot is the lab's chroot on the host: $ASTROOT, else <module root>/build/asterisk-chroot.
func ASTRoot() (string, error) {
	if r := os.Getenv("ASTROOT"); r != "" {
		return filepath.Abs(r)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/callrecd/callrecd\n") {
			return filepath.Join(dir, "build", "asterisk-chroot"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("lab: ASTROOT not set and the callrecd module root not found above the working directory")
		}
		dir = parent
	}
}

// RecordingFile is the host path of an ARI recording of the lab PBX
// (<ASTROOT>/var/spool/asterisk/recording/<name>.<format>).
func RecordingFile(name, format string) (string, error) {
	root, err := ASTRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "var", "spool", "asterisk", "recording", name+"."+format), nil
}
