package engine

import (
	"context"
	"sync"
	"testing"
)

// orderLog notes PBX commands and store writes in the order they happen.
type orderLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *orderLog) add(op string) { l.mu.Lock(); l.ops = append(l.ops, op); l.mu.Unlock() }

type loggingStore struct {
	*fakeStore
	log *orderLog
}

func (s loggingStore) CreateCall(ctx context.Context, row CallRow) (int64, error) {
	s.log.add("store")
	return s.fakeStore.CreateCall(ctx, row)
}
func (s loggingStore) UpdateCall(ctx context.Context, row CallRow) error {
	s.log.add("store")
	return s.fakeStore.UpdateCall(ctx, row)
}
func (s loggingStore) CreateRecording(ctx context.Context, row RecordingRow) error {
	s.log.add("store")
	return s.fakeStore.CreateRecording(ctx, row)
}

// The answer that starts a recording asks the PBX first and writes the rows
// after: no store write stands between the answer and the recording (the
// start lag the lab measures), and the answer time still lands in the row.
func TestAnswerStartsRecordingBeforeAnyStoreWrite(t *testing.T) {
	h := newHarness(t)
	h.user("1001", func(u *User) { u.CallRecordOutgoingInternal = true })
	h.user("1002", nil)
	log := &orderLog{}
	h.pbx.OnStart = func(_, name, _ string) (string, error) { log.add("start"); return name, nil }
	h.e = New(Config{PBX: h.pbx, Settings: h.store, Records: loggingStore{h.store, log}, Clock: h.clock})
	h.send(in("a", "c1", "1001"), dialTo(in("b", "c1", "1002"), "1002"))
	log.mu.Lock()
	log.ops = nil
	log.mu.Unlock()
	h.send(ChannelAnswered{Channel: "b"})
	if len(log.ops) == 0 || log.ops[0] != "start" {
		t.Fatalf("on answer: %v, want the recording started first", log.ops)
	}
	rows := h.store.callRows()
	if len(rows) != 1 || rows[0].Answer.IsZero() {
		t.Fatalf("answer not stored: %+v", rows)
	}
}
