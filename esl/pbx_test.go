package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// A start FreeSWITCH refused, or that never left, is failed at once; a
// start whose answer was lost with the connection is not (FreeSWITCH may
// be recording: the re-sync tells).
func TestStartRecordingFailsOnlyWhatSurelyDidNotStart(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		fails, gone bool
	}{
		{"channel gone", &CommandError{Cmd: "api uuid_record x start p", Reply: "-ERR Cannot locate session!"}, true, true},
		{"refused", &CommandError{Cmd: "api uuid_record x start p", Reply: "-ERR Cannot pause recording session!"}, true, false},
		{"not connected", ErrDisconnected, true, false},
		{"answer lost with the connection", fmt.Errorf("esl: connection lost: %w", ErrClosed), false, false},
		{"no answer in time", fmt.Errorf("no reply within 10s: %w", context.DeadlineExceeded), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var failed []engine.Event
			idle := make(chan string, 1)
			r := &recorder{dir: "/rec", log: slog.New(slog.DiscardHandler), recs: map[string]*fsRecording{},
				playing: map[string]chan struct{}{},
				api:     func(context.Context, string) (string, error) { return "", c.err },
				emit: func(_ context.Context, ev engine.Event) {
					mu.Lock()
					failed = append(failed, ev)
					mu.Unlock()
				},
				idle: func(name string) { idle <- name }}
			if err := r.StartRecording(context.Background(), "leg", "0b0c8a4e-6d6f-4d4e-9d7b-1f2e3d4c5b6a", recording.WAV); err != nil {
				t.Fatal(err)
			}
			select {
			case <-idle: // the job ran
			case <-time.After(5 * time.Second):
				t.Fatal("the start never ran")
			}
			mu.Lock()
			defer mu.Unlock()
			if got := len(failed) == 1; got != c.fails {
				t.Fatalf("failed events %+v, want a failure: %v", failed, c.fails)
			}
			if c.fails && !errors.Is(c.err, ErrDisconnected) {
				if f := failed[0].(engine.RecordingFailed); f.Name == "" || f.Reason == "" || f.ChannelGone != c.gone {
					t.Fatalf("%+v, want channel gone: %v", f, c.gone)
				}
			}
		})
	}
}
