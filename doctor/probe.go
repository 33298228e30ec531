package doctor

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
)

// The probe asks Asterisk itself what callrecd depends on and cannot read
// from outside: which channel variables ARI's events carry (ari.conf
// channelvars) and where a recording Asterisk makes ends up. It creates one
// external-media channel into a throw-away application of its own (callrecd
// ignores UnicastRTP channels), with the variables set; the StasisStart
// event shows which of them ari.conf lets through. It then records that
// channel for one second, feeding it RTP from a local socket, and looks for
// the file in recording_spool (or over ARI). Everything is hung up and
// deleted before it returns.

// probeVars are the variables callrecd reads from events; CHANNEL(linkedid)
// is a function Asterisk evaluates, so the probe only checks it is there.
var probeVars = []string{"CALLRECD_GROUP", "CALLRECD_QUEUE", "CHANNEL(linkedid)"}

const probeValue = "callrecd-doctor"

type probeChannel struct {
	ID          string            `json:"id"`
	Channelvars map[string]string `json:"channelvars"`
}

type probeEvent struct {
	Type      string       `json:"type"`
	Channel   probeChannel `json:"channel"`
	Recording struct {
		Name  string `json:"name"`
		State string `json:"state"`
		Cause string `json:"cause"`
	} `json:"recording"`
}

// probeAsterisk runs the probe; it returns the channel-variable check and
// the spool check.
func probeAsterisk(ctx context.Context, cfg config.Config, rest *ari.REST, timeout time.Duration) []Result {
	ast := cfg.PBX.Asterisk
	vars := Result{Check: "channel variables in ARI events (ari.conf channelvars)"}
	spoolRes := Result{Check: "a test recording reaches callrecd (pbx.asterisk.recording_spool)"}
	fail := func(err error, fix string) []Result {
		vars.Status, vars.Detail, vars.Fix = Warn, "probe channel not made: "+err.Error(), fix
		spoolRes.Status, spoolRes.Detail, spoolRes.Fix = Warn, "not tried (no probe channel)", fix
		return []Result{vars, spoolRes}
	}
	app := ast.App + "-doctor-" + randomHex(4)
	ctx, cancel := context.WithTimeout(ctx, 3*timeout+5*time.Second)
	defer cancel()
	events, closeWS, err := probeEvents(ctx, ast, app, timeout)
	if err != nil {
		return fail(err, "check that the ARI user may open an events websocket (http.conf, ari.conf)")
	}
	defer closeWS()
	rtp, err := rtpSocket(ast.URL)
	if err != nil {
		return fail(err, "callrecd must reach Asterisk's host over UDP for the probe's RTP")
	}
	defer rtp.Close()
	var ch probeChannel
	q := url.Values{"app": {app}, "external_host": {rtp.LocalAddr().String()}, "format": {"ulaw"}}
	body := map[string]any{"variables": map[string]string{"CALLRECD_GROUP": probeValue, "CALLRECD_QUEUE": probeValue}}
	if err := rest.Do(ctx, http.MethodPost, "/channels/externalMedia", q, body, &ch); err != nil {
		return fail(err, "Asterisk 16.6 or later with chan_rtp loaded is needed for the probe")
	}
	defer rest.Do(context.WithoutCancel(ctx), http.MethodDelete, "/channels/"+url.PathEscape(ch.ID), nil, nil, nil)

	start, err := waitEvent(ctx, events, func(ev probeEvent) bool { return ev.Type == "StasisStart" && ev.Channel.ID == ch.ID })
	if err != nil {
		return fail(err, "the probe channel never entered its application")
	}
	vars = checkChannelvars(vars, start.Channel.Channelvars)

	spoolRes = probeRecording(ctx, cfg, rest, events, rtp, ch, spoolRes)
	return []Result{vars, spoolRes}
}

// checkChannelvars says which of probeVars the event lacked.
func checkChannelvars(res Result, got map[string]string) Result {
	var missing []string
	for _, v := range probeVars {
		val, ok := got[v]
		if !ok || (v != "CHANNEL(linkedid)" && val != probeValue) || val == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		res.Status, res.Detail = OK, strings.Join(probeVars, ", ")+" arrive with every event"
		return res
	}
	res.Status = Fail
	res.Detail = "ARI events lack " + strings.Join(missing, ", ") + ": ring groups' dtmf_record_toggle and session ids cannot work"
	res.Fix = "ari.conf [general]: channelvars = " + strings.Join(probeVars, ",") +
		" (add them to an existing channelvars line, do not replace it), then `module reload res_ari.so`"
	return res
}

// probeRecordingPrefix names the probe's test recordings.
const probeRecordingPrefix = probeValue + "-"

// probeRecording records the probe channel for a second and finds the file.
func probeRecording(ctx context.Context, cfg config.Config, rest *ari.REST, events <-chan probeEvent, rtp *net.UDPConn, ch probeChannel, res Result) Result {
	sweepProbeRecordings(ctx, cfg.PBX.Asterisk.RecordingSpool, rest)
	name := probeRecordingPrefix + randomHex(6)
	q := url.Values{"name": {name}, "format": {"wav"}, "maxDurationSeconds": {"1"}, "ifExists": {"overwrite"}}
	if err := rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(ch.ID)+"/record", q, nil, nil); err != nil {
		res.Status, res.Detail, res.Fix = Fail, "Asterisk refused to record: "+err.Error(), "check Asterisk's log; astspooldir/recording must be writable by the asterisk user"
		return res
	}
	// Whatever happens next (serve runs the probe beside the daemon and
	// may stop it half-way), the test recording leaves nothing behind:
	// stopped if still live, then deleted.
	stored := ari.NewStoredRecordings(rest)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		_ = rest.Do(cctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil, nil)
		_ = stored.Delete(cctx, name)
	}()
	stop := make(chan struct{})
	defer close(stop)
	go sendRTP(rtp, ch.Channelvars["UNICASTRTP_LOCAL_ADDRESS"], ch.Channelvars["UNICASTRTP_LOCAL_PORT"], stop)
	ev, err := waitEvent(ctx, events, func(ev probeEvent) bool {
		return (ev.Type == "RecordingFinished" || ev.Type == "RecordingFailed") && ev.Recording.Name == name
	})
	switch {
	case err != nil:
		res.Status, res.Detail, res.Fix = Warn, "the test recording did not finish: "+err.Error(), "check that Asterisk's RTP ports accept packets from callrecd's host"
		return res
	case ev.Type == "RecordingFailed":
		res.Status, res.Detail, res.Fix = Fail, "Asterisk failed the test recording: "+ev.Recording.Cause, "astspooldir/recording must be writable by the asterisk user"
		return res
	}
	dir := cfg.PBX.Asterisk.RecordingSpool
	if dir != config.SpoolOverARI {
		path := filepath.Join(dir, name+".wav")
		if fi, err := os.Stat(path); err == nil && fi.Size() > 44 {
			res.Status, res.Detail = OK, fmt.Sprintf("Asterisk's test recording appeared in %s (%d bytes)", dir, fi.Size())
			return res
		}
	}
	n, err := stored.Fetch(ctx, name, io.Discard)
	switch {
	case err != nil:
		res.Status, res.Detail = Fail, "Asterisk recorded, but the file is neither in "+dir+" nor served over ARI: "+err.Error()
		res.Fix = "point pbx.asterisk.recording_spool at Asterisk's astspooldir/recording as this machine sees it, or set it to `ari`"
	case dir == config.SpoolOverARI:
		res.Status, res.Detail = OK, fmt.Sprintf("Asterisk's test recording is served over ARI (%d bytes); recordings are fetched that way", n)
	default:
		res.Status, res.Detail = Warn, fmt.Sprintf("Asterisk's test recording is not in %s (not Asterisk's spool, or not this machine's); callrecd fetches every file over ARI instead", dir)
		res.Fix = "set pbx.asterisk.recording_spool: ari to say so, or point it at Asterisk's astspooldir/recording (a shared mount saves the copy over HTTP)"
	}
	return res
}

// sweepProbeRecordings deletes the test recordings a probe stopped by
// SIGKILL (or a crash) left in Asterisk's spool: its deferred clean-up
// never ran. Those still live, or younger than a minute in a spool this
// machine reads, may be another probe's (an admin's `callrecd doctor`
// beside serve's) and are left to it.
func sweepProbeRecordings(ctx context.Context, spool string, rest *ari.REST) {
	stored := ari.NewStoredRecordings(rest)
	names, err := stored.List(ctx)
	if err != nil {
		return // the probe's own requests say what is wrong
	}
	for _, name := range names {
		if !strings.HasPrefix(name, probeRecordingPrefix) {
			continue
		}
		if spool != config.SpoolOverARI {
			if fi, err := os.Stat(filepath.Join(spool, name+".wav")); err == nil && time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		}
		var live ari.LiveRecording
		if err := rest.Do(ctx, http.MethodGet, "/recordings/live/"+url.PathEscape(name), nil, nil, &live); ari.StatusOf(err) != http.StatusNotFound {
			continue // live (or ARI did not say): not a leftover
		}
		_ = stored.Delete(ctx, name)
	}
}

// probeEvents opens the probe application's websocket and decodes its
// events until ctx ends or the returned close is called.
func probeEvents(ctx context.Context, ast config.Asterisk, app string, timeout time.Duration) (<-chan probeEvent, func(), error) {
	u, err := url.Parse(strings.TrimSuffix(ast.URL, "/") + "/events")
	if err != nil {
		return nil, nil, err
	}
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.RawQuery = url.Values{"app": {app}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ast.Username+":"+ast.Password)))
	conn, _, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, nil, fmt.Errorf("events websocket: %w", err)
	}
	conn.SetReadLimit(4 << 20)
	out := make(chan probeEvent, 64)
	go func() {
		defer close(out)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var ev probeEvent
			if json.Unmarshal(data, &ev) == nil {
				select {
				case out <- ev:
				default: // the probe waits for two events; never block the reader
				}
			}
		}
	}()
	return out, func() { conn.Close(websocket.StatusNormalClosure, "doctor done") }, nil
}

func waitEvent(ctx context.Context, events <-chan probeEvent, match func(probeEvent) bool) (probeEvent, error) {
	for {
		select {
		case <-ctx.Done():
			return probeEvent{}, errors.New("timed out waiting for Asterisk's event")
		case ev, ok := <-events:
			if !ok {
				return probeEvent{}, errors.New("the events websocket closed")
			}
			if match(ev) {
				return ev, nil
			}
		}
	}
}

// rtpSocket is a UDP socket on the address this machine reaches Asterisk
// from, so Asterisk's strict RTP takes its packets.
func rtpSocket(ariURL string) (*net.UDPConn, error) {
	u, err := url.Parse(ariURL)
	if err != nil {
		return nil, err
	}
	route, err := net.Dial("udp", net.JoinHostPort(u.Hostname(), "9"))
	if err != nil {
		return nil, err
	}
	local := route.LocalAddr().(*net.UDPAddr).IP
	route.Close()
	return net.ListenUDP("udp", &net.UDPAddr{IP: local})
}

// sendRTP sends 2 s of μ-law silence at the real pace (the recording stops
// after one), or until stop closes.
func sendRTP(conn *net.UDPConn, host, port string, stop <-chan struct{}) {
	dst, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, port))
	if err != nil {
		return
	}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 0 // RTP v2, payload type 0 (PCMU)
	binary.BigEndian.PutUint32(pkt[8:], 0x0ca11ecd)
	for i := range pkt[12:] {
		pkt[12+i] = 0xff // μ-law silence
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := range 100 {
		binary.BigEndian.PutUint16(pkt[2:], uint16(seq))
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq*160))
		if _, err := conn.WriteToUDP(pkt, dst); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
