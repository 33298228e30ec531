package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/callrecd/callrecd/internal/lab"
)

// bareApp is the bare client's ARI application.
const bareApp = "callrecd-bare"

// bareClient is the yardstick of the start-lag goal, run on this box under the
// same load as callrecd: a Go ARI client doing only what starting a recording needs (a
// snoop on the callee leg at its ChannelStateChange Up, the record on the snoop's
// StasisStart) and nothing else: no rules, no index, no stop. It runs in this process.
type bareClient struct {
	pbx   *lab.PBX
	spool string
	wg    sync.WaitGroup
	done  chan struct{}

	mu    sync.Mutex
	names []string
	errs  []error
}

func startBare(ctx context.Context, spool string) (*bareClient, error) {
	pbx, err := lab.ConnectPBX(ctx, lab.PBXConfig{App: bareApp, SubscribeAll: true})
	if err != nil {
		return nil, err
	}
	allowed := []map[string]string{{"type": "ChannelCreated"}, {"type": "ChannelStateChange"}, {"type": "StasisStart"}}
	if err := pbx.Do(ctx, http.MethodPut, "/applications/"+bareApp+"/eventFilter", nil, map[string]any{"allowed": allowed}, nil); err != nil {
		pbx.Close()
		return nil, fmt.Errorf("bare client event filter: %w", err)
	}
	b := &bareClient{pbx: pbx, spool: spool, done: make(chan struct{})}
	b.wg.Add(1)
	go b.loop(ctx)
	return b, nil
}

func (b *bareClient) loop(ctx context.Context) {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	callee := map[string]bool{}
	for i := 0; ; i++ {
		e, err := b.pbx.Events.Next(ctx, i)
		if err != nil {
			return
		}
		ch := e.Channel
		if ch == nil {
			continue
		}
		switch e.Type {
		case "ChannelCreated":
			// an outgoing leg (the PBX dials it) starts Down: a callee
			callee[ch.ID] = ch.State == "Down" && strings.HasPrefix(ch.Name, "PJSIP/")
		case "ChannelStateChange":
			if ch.State == "Up" && callee[ch.ID] {
				callee[ch.ID] = false
				b.command(ctx, "/channels/"+ch.ID+"/snoop",
					url.Values{"spy": {"both"}, "app": {bareApp}, "snoopId": {"bare-" + ch.ID}})
			}
		case "StasisStart":
			if name, ok := strings.CutPrefix(ch.ID, "bare-"); ok {
				name = "bare-" + name
				b.mu.Lock()
				b.names = append(b.names, name)
				b.mu.Unlock()
				b.command(ctx, "/channels/"+ch.ID+"/record",
					url.Values{"name": {name}, "format": {"wav"}, "ifExists": {"overwrite"}, "beep": {"false"}})
			}
		}
	}
}

// command sends one request off the event loop, as any client that does not want one
// slow answer to hold up the next event would.
func (b *bareClient) command(ctx context.Context, path string, q url.Values) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.pbx.Do(ctx, http.MethodPost, path, q, nil, nil); err != nil && ctx.Err() == nil {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		}
	}()
}

// stop ends the client and removes its files from the PBX's spool (its snoops went
// with the calls). It returns the requests that failed.
func (b *bareClient) stop() error {
	close(b.done)
	b.wg.Wait()
	b.pbx.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.names {
		_ = os.Remove(filepath.Join(b.spool, n+".wav"))
	}
	return errors.Join(b.errs...)
}
