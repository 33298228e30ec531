package ari

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// prompter plays the engine's prompts and hangs channels up, on each
// channel's command queue ("channel:<id>"): a hang-up waits for the prompts
// queued before it.
type prompter struct {
	pbx      *pbx
	enqueue  func(key string, job func(context.Context)) // the recorder's queues
	media    map[engine.Prompt]string
	playWait time.Duration // bound on one prompt

	seq     atomic.Int64 // numbers the whisper snoops and playbacks
	playing arrivals     // playback id → closed at its PlaybackFinished
}

// play queues prompt for each channel.
func (p *prompter) play(channelIDs []string, prompt engine.Prompt) error {
	media := p.media[prompt]
	if media == "" {
		return fmt.Errorf("ari: no media for prompt %q", prompt)
	}
	for _, id := range channelIDs {
		p.enqueue("channel:"+id, func(ctx context.Context) { p.playTo(ctx, id, media) })
	}
	return nil
}

// hangup queues the hang-up of channelID.
func (p *prompter) hangup(channelID string) {
	p.enqueue("channel:"+channelID, func(ctx context.Context) {
		err := p.pbx.rest.Do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(channelID), nil, nil, nil)
		if err != nil && StatusOf(err) != http.StatusNotFound {
			p.pbx.failures.Add(1)
			p.pbx.log.Warn("ARI: hangup failed", "channel", channelID, "err", err)
		}
	})
}

// playTo plays media to a channel and waits for its end. A channel in the
// application (a *26 call) is answered and played to directly; any other
// channel (a plain dialplan call) gets a whispering snoop (spy none, whisper
// out) that plays into it: ARI refuses play on a channel outside Stasis
// (409).
func (p *prompter) playTo(ctx context.Context, channelID, media string) {
	chPath := "/channels/" + url.PathEscape(channelID)
	target := channelID
	err := p.pbx.rest.Do(ctx, http.MethodPost, chPath+"/answer", nil, nil, nil)
	if StatusOf(err) == http.StatusConflict {
		snoop := fmt.Sprintf("callrecdplay-%d", p.seq.Add(1))
		ready := p.pbx.snoops.expect(snoop)
		q := url.Values{"spy": {"none"}, "whisper": {"out"}, "app": {p.pbx.app}, "snoopId": {snoop}, "appArgs": {"callrecd-prompt"}}
		if err := p.pbx.rest.Do(ctx, http.MethodPost, chPath+"/snoop", q, nil, nil); err != nil {
			p.pbx.snoops.cancel(snoop)
			p.pbx.failures.Add(1)
			p.pbx.log.Warn("ARI: prompt snoop failed", "channel", channelID, "err", err)
			return
		}
		select {
		case <-ready:
		case <-time.After(p.pbx.snoopWait):
		}
		target = snoop
		defer p.pbx.deleteChannel(ctx, snoop)
	} else if err != nil {
		if StatusOf(err) != http.StatusNotFound {
			p.pbx.failures.Add(1)
			p.pbx.log.Warn("ARI: answer before prompt failed", "channel", channelID, "err", err)
		}
		return
	}
	pid := fmt.Sprintf("callrecd-pb-%d-%d", time.Now().UnixNano(), p.seq.Add(1))
	done := p.playing.expect(pid)
	q := url.Values{"media": {media}, "playbackId": {pid}}
	if err := p.pbx.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(target)+"/play", q, nil, nil); err != nil {
		p.playing.cancel(pid)
		p.pbx.failures.Add(1)
		p.pbx.log.Warn("ARI: play failed", "channel", channelID, "media", media, "err", err)
		return
	}
	select {
	case <-done:
	case <-time.After(p.playWait):
		p.playing.cancel(pid)
	}
}
