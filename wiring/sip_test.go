package wiring

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/internal/fakeari"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The SIP listener as serve builds it: off by default (the realm is still
// recorded for the API), and when on, a trusted phone's MESSAGE pauses the
// call's recording through the executor, audited with source sip_message.
func TestSIPListenerThroughBuild(t *testing.T) {
	ctx := context.Background()
	if sys := newTestSystem(t, Options{}); sys.SIP != nil {
		t.Fatal("the SIP listener runs although sip.enabled is false")
	}

	dir := t.TempDir()
	cfg := config.Default()
	// Run runs the ARI adapter too: its commands must succeed, or the
	// recording fails before the MESSAGE arrives (488, not recording).
	ariURL := fakeari.AcceptsEverything(t)
	cfg.PBX.Asterisk = config.Asterisk{URL: ariURL + "/ari", Username: "u", Password: "p", App: "callrecd", RecordingSpool: dir}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Tenants = []config.Tenant{{UUID: tenant, Name: "Acme", Default: true}}
	cfg.SIP = config.SIPConfig{Enabled: true, ListenUDP: "127.0.0.1:0", Realm: "pbx.test", TrustedNetworks: []string{"127.0.0.1/32"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sys, err := Build(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if realm, err := sys.Store.SIPRealm(ctx); err != nil || realm != "pbx.test" {
		t.Fatalf("realm %q %v", realm, err)
	}
	for i, ext := range []string{"1001", "1002"} {
		if _, err := sys.Store.CreateUser(ctx, store.User{UUID: []string{"b2e98781-7118-4010-8da3-b93b1b7e1389", "def42192-837a-41e0-aa4e-86390e46eb17"}[i],
			TenantUUID: tenant, Extension: ext, Endpoints: []string{ext}, CallRecordOutgoingInternalEnabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sys.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	for _, ev := range []engine.Event{
		engine.ChannelCreated{At: now, Channel: "A", CallID: "L1", Tenant: tenant, Endpoint: "1001", Role: engine.RoleInternal, CallerNumber: "1001", CalleeNumber: "1002"},
		engine.ChannelCreated{At: now, Channel: "B", CallID: "L1", Tenant: tenant, Endpoint: "1002", Role: engine.RoleInternal, CallerNumber: "1001", CalleeNumber: "1002"},
		engine.ChannelAnswered{At: now, Channel: "B"}, engine.ChannelAnswered{At: now, Channel: "A"},
		engine.ChannelBridged{At: now, Channel: "B", Bridge: "br"}, engine.ChannelBridged{At: now, Channel: "A", Bridge: "br"},
	} {
		sys.Executor.Handle(ctx, ev)
	}
	ci, err := sys.Executor.Call(tenant, "L1")
	if err != nil || len(ci.Recordings) != 1 {
		t.Fatalf("call %+v %v", ci, err)
	}
	sys.Executor.Handle(ctx, engine.RecordingStarted{At: now, Name: ci.Recordings[0].UUID, Channel: "A"})

	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	addr := sys.SIP.UDPAddr().(*net.UDPAddr)
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "callrecd", Host: addr.IP.String(), Port: addr.Port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1"}}
	from.Params.Add("tag", "t1")
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/x-media-control+json"))
	req.SetBody([]byte(`{"operation":"pause","session_id":"L1"}`))
	reqCtx, reqCancel := context.WithTimeout(ctx, 5*time.Second)
	defer reqCancel()
	res, err := client.Do(reqCtx, req)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("MESSAGE: %v %v", res, err)
	}
	if ci, _ := sys.Executor.Call(tenant, "L1"); len(ci.Recordings) != 1 || len(ci.Recordings[0].Paused) != 1 {
		t.Fatalf("recordings %+v", ci.Recordings)
	}
	audit, err := sys.Store.ListAudit(ctx, store.AuditFilter{Tenant: tenant})
	if err != nil || len(audit) != 1 || audit[0].Action != "recording.pause" || audit[0].Details["source"] != "sip_message" {
		t.Fatalf("audit %+v %v", audit, err)
	}
	if n, err := testutil.GatherAndCount(sys.Registry, "callrecd_sip_message_total"); err != nil || n == 0 {
		t.Fatalf("callrecd_sip_message_total not on the registry: %d %v", n, err)
	}
}
