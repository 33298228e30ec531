package main

// Placing the load: the warm-up call and each measured call, as the
// peer's phones and carrier make them.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
)

// warmUp places one recorded internal call (1001 → 1003) of a second and waits until its
// recording is over.
func warmUp(ctx context.Context, drv *lab.Driver) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := drv.CallPhone(ctx, "1001", "1003")
	if err != nil {
		return err
	}
	if err := c.WaitUp(ctx); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := c.Hangup(ctx); err != nil {
		return err
	}
	if err := c.WaitEnded(ctx); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	return nil
}

// recordingsSettled: every recording seen started has finished (or failed).
func recordingsSettled(evs []lab.Event) bool {
	live := map[string]int{}
	for _, e := range evs {
		if e.Recording == nil {
			continue
		}
		switch e.Type {
		case "RecordingStarted":
			live[e.Recording.Name]++
		case "RecordingFinished", "RecordingFailed":
			live[e.Recording.Name]--
		}
	}
	for _, n := range live {
		if n > 0 {
			return false
		}
	}
	return true
}

// placeCall places call i and plays it out:
//   - i < transfers: the carrier calls DID 1001/1002, the phone answers and, at half the
//     hold, transfers the caller to an external number; the external party answers and
//     the call goes on (unrecorded) for 2 s;
//   - the rest, by turns: carrier → 1003/1004, 100X → 1003/1004, 100X → external.
func placeCall(ctx context.Context, drv *lab.Driver, o options, i int) callResult {
	ctx, cancel := context.WithTimeout(ctx, o.hold+60*time.Second)
	defer cancel()
	var r callResult
	var caller *lab.Party
	var err error
	phone := strconv.Itoa(1001 + i%4)
	switch {
	case i < o.transfers:
		r.kind = "transfer"
		phone = strconv.Itoa(1001 + i%2)
		caller, err = drv.CallFromCarrier(ctx, fmt.Sprintf("+49151%08d", i), "4930555"+phone)
	case i%3 == 0:
		r.kind = "inbound"
		caller, err = drv.CallFromCarrier(ctx, fmt.Sprintf("+49151%08d", i), "4930555"+strconv.Itoa(1003+i%2))
	case i%3 == 1:
		r.kind = "internal"
		// 1001→1004, 1002→1003, 1003→1004, 1004→1003
		caller, err = drv.CallPhone(ctx, phone, strconv.Itoa(1003+(i+1)%2))
	default:
		r.kind = "outbound"
		if o.ring > 0 {
			drv.SetAnswer(fmt.Sprintf("555%05d", i), lab.Answer{Delay: o.ring})
		}
		caller, err = drv.CallExternal(ctx, phone, fmt.Sprintf("555%05d", i))
	}
	if err != nil {
		r.err = err
		return r
	}
	defer func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer hcancel()
		_ = caller.Hangup(hctx)
	}()
	var callee *lab.Party
	if r.kind == "transfer" {
		if callee, err = drv.Incoming(ctx, phone); err != nil {
			r.err = err
			return r
		}
		if err := callee.WaitUp(ctx); err != nil {
			r.err = err
			return r
		}
	}
	if err := caller.WaitUp(ctx); err != nil {
		r.err = err
		return r
	}
	r.answeredAt = time.Now()
	if r.kind != "transfer" {
		r.err = sleep(ctx, o.hold)
		return r
	}
	if r.err = sleep(ctx, o.hold/2); r.err != nil {
		return r
	}
	ext := fmt.Sprintf("555%05d", i)
	r.transferAt = time.Now()
	if err := callee.Transfer(ctx, o.transferMethod, "9"+ext); err != nil {
		r.err = err
		return r
	}
	out, err := drv.Incoming(ctx, ext)
	if err != nil {
		r.err = fmt.Errorf("transfer target: %w", err)
		return r
	}
	if err := out.WaitUp(ctx); err != nil {
		r.err = fmt.Errorf("transfer target: %w", err)
		return r
	}
	r.err = sleep(ctx, 2*time.Second)
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	_ = out.Hangup(hctx)
	return r
}
