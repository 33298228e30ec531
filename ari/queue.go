package ari

import (
	"context"
	"encoding/base64"
	"sync"
)

// queue is an unbounded FIFO of events. The websocket reader never blocks
// on a slow consumer and never drops: a burst waits here, in order.
type queue struct {
	mu     sync.Mutex
	items  []Event
	head   int
	signal chan struct{} // non-blocking wake-up for a waiting pop
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(ev Event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) pop(ctx context.Context) (Event, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			ev := q.items[q.head]
			q.items[q.head] = Event{}
			q.head++
			// Reclaim the consumed prefix once it dominates the slice.
			if q.head > 1024 && q.head*2 > len(q.items) {
				q.items = append([]Event(nil), q.items[q.head:]...)
				q.head = 0
			}
			q.mu.Unlock()
			return ev, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-q.signal:
		}
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func base64Encode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
