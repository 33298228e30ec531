package esl

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// resync builds the engine's Snapshot from a fresh connection: FreeSWITCH
// replays nothing on subscribe, so the state is read back with api
// commands — the channels (`show channels`), each one's full headers
// (`uuid_dump … json`, the same headers a CHANNEL_CREATE carries), the
// bridged pairs (`show calls`) and the recordings running on each leg
// (`uuid_buglist`), then the channels again (see below). Pause state is invisible on FreeSWITCH: the engine sets
// the one its index holds (PauseUnknown).
func (a *Adapter) resync(ctx context.Context, c *Client) (engine.Snapshot, error) {
	api := func(cmd string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, a.cfg.CommandTimeout)
		defer cancel()
		return c.API(cctx, cmd)
	}
	snap := engine.Snapshot{At: time.Now().UTC()}
	body, err := api("show channels as json")
	if err != nil {
		return snap, fmt.Errorf("re-sync: show channels: %w", err)
	}
	rows, err := showRows(body)
	if err != nil {
		return snap, fmt.Errorf("re-sync: show channels: %w", err)
	}
	a.tr.ignored, a.tr.featured = map[string]bool{}, map[string]bool{}
	byID := map[string]int{}
	for _, row := range rows {
		id := row["uuid"]
		if id == "" {
			continue
		}
		dump, err := api("uuid_dump " + id + " json")
		if gone(err) {
			continue // hung up since the list was read
		}
		if err != nil {
			return snap, fmt.Errorf("re-sync: uuid_dump %s: %w", id, err)
		}
		ev, err := DecodeJSONEvent([]byte(dump))
		if err != nil {
			return snap, fmt.Errorf("re-sync: uuid_dump %s: %w", id, err)
		}
		if ev.Get("Unique-ID") == "" {
			ev.Headers["Unique-ID"] = id
		}
		if a.tr.m.ignored(ev) {
			a.tr.ignored[id] = true
			continue
		}
		byID[id] = len(snap.Channels)
		snap.Channels = append(snap.Channels, engine.SnapshotChannel{ChannelCreated: a.tr.created(ev)})
	}
	if body, err = api("show calls as json"); err != nil {
		return snap, fmt.Errorf("re-sync: show calls: %w", err)
	}
	calls, err := showRows(body)
	if err != nil {
		return snap, fmt.Errorf("re-sync: show calls: %w", err)
	}
	for _, row := range calls {
		x, okA := byID[row["uuid"]]
		y, okB := byID[row["b_uuid"]]
		if !okA || !okB {
			continue
		}
		id := bridgeID(row["uuid"], row["b_uuid"])
		snap.Channels[x].Bridge, snap.Channels[y].Bridge = id, id
	}
	for _, sc := range snap.Channels {
		list, err := api("uuid_buglist " + sc.Channel)
		var refused *CommandError
		if errors.As(err, &refused) {
			continue // "-ERR no reply": gone, or no bugs
		}
		if err != nil {
			// The link failed mid-way: a snapshot without this leg's
			// recordings would close them as lost. Fail; the next
			// connection re-syncs.
			return snap, fmt.Errorf("re-sync: uuid_buglist %s: %w", sc.Channel, err)
		}
		for _, target := range recordTargets(list) {
			if name, ok := recordingName(target); ok {
				snap.Recordings = append(snap.Recordings, engine.LiveRecording{Name: name, Channel: sc.Channel, PauseUnknown: true})
			}
		}
	}
	// A call hanging up during these reads ends its recordings first: the
	// channels read before would show it still up with its recordings gone,
	// which reads as recordings FreeSWITCH lost (pbx_lost rows, a start on a
	// leg already gone). The channels are listed again; one gone meanwhile
	// leaves the snapshot with its recordings, which the engine takes for a
	// hangup. The snapshot is dated at this last read (see the ARI re-sync).
	snap.At = time.Now().UTC()
	if body, err = api("show channels as json"); err != nil {
		return snap, fmt.Errorf("re-sync: show channels: %w", err)
	}
	if rows, err = showRows(body); err != nil {
		return snap, fmt.Errorf("re-sync: show channels: %w", err)
	}
	up := make(map[string]bool, len(rows))
	for _, row := range rows {
		up[row["uuid"]] = true
	}
	snap = withoutGone(snap, up)
	a.recorder.adopt(snap.Recordings)
	return snap, nil
}

// withoutGone keeps the channels of snap that are still up, and the
// recordings on them.
func withoutGone(snap engine.Snapshot, up map[string]bool) engine.Snapshot {
	chans := snap.Channels[:0]
	for _, sc := range snap.Channels {
		if up[sc.Channel] {
			chans = append(chans, sc)
		}
	}
	recs := snap.Recordings[:0]
	for _, lr := range snap.Recordings {
		if up[lr.Channel] {
			recs = append(recs, lr)
		}
	}
	snap.Channels, snap.Recordings = chans, recs
	return snap
}

// showRows decodes `show … as json`: {"row_count":N,"rows":[{…}]}, and
// {"row_count": 0} with no rows when there are none.
func showRows(body string) ([]map[string]string, error) {
	var out struct {
		RowCount int                 `json:"row_count"`
		Rows     []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &out); err != nil {
		return nil, fmt.Errorf("unexpected answer %.80q: %w", body, err)
	}
	return out.Rows, nil
}

// recordTargets are the files uuid_buglist shows session_record bugs
// writing.
func recordTargets(list string) []string {
	var bugs struct {
		Bugs []struct {
			Function string `xml:"function"`
			Target   string `xml:"target"`
		} `xml:"media-bug"`
	}
	if err := xml.Unmarshal([]byte(list), &bugs); err != nil {
		return nil
	}
	var out []string
	for _, b := range bugs.Bugs {
		if b.Function == "session_record" {
			out = append(out, strings.TrimSpace(b.Target))
		}
	}
	return out
}
