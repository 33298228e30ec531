package esl

import (
	"context"
	"net"
	"testing"
	"time"
)

// The redial wait's probe sees FreeSWITCH go and come back: it fails while
// nothing listens on the event socket's address and succeeds once
// something does, so a FreeSWITCH that was away is dialled again at once
// (redial.Wait), not after the backoff grown meanwhile.
func TestRedialProbeSeesTheEventSocketGoAndComeBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a := NewAdapter(AdapterConfig{Address: addr}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.listening(ctx); err != nil {
		t.Fatalf("probe while FreeSWITCH listens: %v", err)
	}
	ln.Close()
	if err := a.listening(ctx); err == nil {
		t.Fatal("probe succeeded while nothing listened")
	}
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer back.Close()
	if err := a.listening(ctx); err != nil {
		t.Fatalf("probe once FreeSWITCH listens again: %v", err)
	}
}

// Only a dial that found nothing listening shows FreeSWITCH away (the
// redial wait then ends at the first accepted probe); a refused login or a
// lost connection gets the whole backoff.
func TestDialFailuresThatShowFreeSWITCHAway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, dialErr := Dial(ctx, Config{Addr: addr, Password: "ClueCon", DialTimeout: time.Second, CommandTimeout: time.Second})
	if dialErr == nil || !isDialRefused(dialErr) {
		t.Errorf("dial to a closed port: %v, want it seen as FreeSWITCH away", dialErr)
	}
	for _, err := range []error{
		&CommandError{Cmd: "auth", Reply: "-ERR invalid"},
		ErrClosed,
		nil,
	} {
		if isDialRefused(err) {
			t.Errorf("%v seen as FreeSWITCH away", err)
		}
	}
}
