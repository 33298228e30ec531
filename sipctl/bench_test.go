package sipctl

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// BenchmarkMessages compares, in one run, MESSAGEs/s accepted by callrecd's
// listener (trusted-network sender, parse, executor fake, audit fake) with
// a bare sipgo server that answers 202 with no logic, both over loopback
// UDP with the same client. Run:
//
//	go test -run XXX -bench Messages -benchtime 3s ./sipctl/
//
// The figure is reported as msgs/s; nothing asserts a speed.
func BenchmarkMessages(b *testing.B) {
	b.Run("callrecd", func(b *testing.B) {
		_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
		f := &fakes{}
		l, err := New(Config{UDP: "127.0.0.1:0", Realm: realm, Controller: f, Credentials: f, Audit: f,
			Trusted: []*net.IPNet{loopback}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		defer func() { cancel(); <-done }()
		benchClient(b, l.UDPAddr().(*net.UDPAddr), func() { f.mu.Lock(); f.calls, f.audits = f.calls[:0], f.audits[:0]; f.mu.Unlock() })
	})
	b.Run("bare-sipgo", func(b *testing.B) {
		quiet := slog.New(slog.DiscardHandler)
		ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
			sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
		if err != nil {
			b.Fatal(err)
		}
		defer ua.Close()
		srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
		})
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.ServeUDP(pc) }()
		defer pc.Close()
		benchClient(b, pc.LocalAddr().(*net.UDPAddr), func() {})
	})
}

// benchClient sends b.N PortSIP MESSAGEs from parallel goroutines and
// requires every one to be answered 202.
func benchClient(b *testing.B, addr *net.UDPAddr, reset func()) {
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"operation":"pause","session_id":"1715000000.12"}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "callrecd", Host: addr.IP.String(), Port: addr.Port})
			from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1"}}
			from.Params.Add("tag", sip.GenerateTagN(8))
			req.AppendHeader(from)
			req.AppendHeader(sip.NewHeader("Content-Type", "application/x-media-control+json"))
			req.SetBody(body)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := client.Do(ctx, req)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			if res.StatusCode != 202 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	reset()
}
