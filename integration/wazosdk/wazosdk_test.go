//go:build lab

// Package wazosdk checks callrecd with a real Wazo client: npm's @wazo/sdk
// (pinned in package.json, installed by `make deps`: npm ci) drives a
// callrecd built by wiring.Build, as `callrecd serve` builds it, over
// HTTPS (http.tls_cert/tls_key: the SDK talks https only). compat.cjs does
// the calls and parses each answer into the SDK's models.
//
//	flock build/lab.lock go test -tags lab -count=1 ./integration/wazosdk/
package wazosdk

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/wiring"
	"github.com/google/uuid"
)

const tenantID = "5b1f6a0e-3c2d-4e8f-9a7b-6c5d4e3f2a1b"

// callrecd is a running callrecd and what the script needs from it.
type callrecd struct {
	sys    *wiring.System
	dir    string
	caCert string // PEM file of the self-signed certificate, for node
	env    map[string]string
	logs   *syncBuf
}

// selfSigned writes a certificate for 127.0.0.1 that is its own CA (node
// trusts it through NODE_EXTRA_CA_CERTS) and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callrecd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// start builds and runs callrecd with TLS on loopback; tune adjusts the
// configuration (the PBX link) before it is validated.
func start(t *testing.T, tune func(*config.Config)) *callrecd {
	t.Helper()
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfg := config.Default()
	// No PBX unless tune says so: the link retries a closed loopback port
	// while the API serves.
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:1/ari", Username: "recorder", Password: "secret", App: "callrecd",
		RecordingSpool: filepath.Join(dir, "spool")}
	cfg.PBX.ConnectTimeout, cfg.PBX.ReconnectMaxBackoff = time.Second, 500*time.Millisecond
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.HTTP = config.HTTP{Listen: "127.0.0.1:0", TLSCert: cert, TLSKey: key}
	cfg.Tenants = []config.Tenant{{UUID: tenantID, Name: "acme", EndpointPrefixes: []string{"100"}, Default: true}}
	cfg.Trunks.Endpoints = []string{"carrier"}
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := wiring.Build(ctx, cfg, wiring.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sys.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		sys.Close()
	})
	return &callrecd{sys: sys, dir: dir, caCert: cert, logs: logs,
		env: map[string]string{"WAZOSDK_SERVER": sys.Addr().String()}}
}

// seed adds Olga (1015, the script's user) and Anastasia (1011), an admin
// and a user token, and Olga's calls: two with Anastasia (the older one
// recorded, a real WAV), one with 1099.
func (c *callrecd) seed(t *testing.T, olgaExt, anaExt string) (olga, ana store.User) {
	t.Helper()
	ctx := context.Background()
	st := c.sys.Store
	var err error
	if olga, err = st.CreateUser(ctx, store.User{UUID: uuid.NewString(), TenantUUID: tenantID, Extension: olgaExt,
		Firstname: "Olga", Lastname: "Romanov", Endpoints: []string{olgaExt}, RecordAudio: true, OnlineCallRecordEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if ana, err = st.CreateUser(ctx, store.User{UUID: uuid.NewString(), TenantUUID: tenantID, Extension: anaExt,
		Firstname: "Anastasia", Lastname: "Romanov", Endpoints: []string{anaExt}, RecordAudio: true}); err != nil {
		t.Fatal(err)
	}
	_, admin, err := st.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: tenantID})
	if err != nil {
		t.Fatal(err)
	}
	_, user, err := st.CreateToken(ctx, store.Token{Role: store.RoleUser, TenantUUID: tenantID, UserUUID: olga.UUID})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	call := func(i int, src, dst string, srcUser, dstUser string) store.Call {
		start := base.Add(time.Duration(i) * time.Hour)
		answer, end := start.Add(2*time.Second), start.Add(time.Minute)
		created, err := st.CreateCall(ctx, store.Call{TenantUUID: tenantID, PBXCallID: start.Format("20060102150405") + ".1",
			Start: start, Answer: &answer, End: &end, Direction: store.DirectionInternal, SourceExtension: src,
			SourceUserUUID: srcUser, SourceName: "Olga Romanov", DestinationExtension: dst, DestinationUserUUID: dstUser})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	first := call(0, olgaExt, anaExt, olga.UUID, ana.UUID)
	call(1, olgaExt, "1099", olga.UUID, "")
	call(2, olgaExt, anaExt, olga.UUID, ana.UUID)

	var wav bytes.Buffer
	samples := make([]int16, 8000)
	for i := range samples {
		samples[i] = int16(i % 300)
	}
	if err := media.WritePCM16(&wav, 8000, 1, samples); err != nil {
		t.Fatal(err)
	}
	recUUID := uuid.NewString()
	name, err := recording.Name{Start: first.Start, CallID: first.ID, RecordingUUID: recUUID, Format: recording.WAV}.FileName()
	if err != nil {
		t.Fatal(err)
	}
	monitor := filepath.Join(c.sys.Root, "tenants", tenantID, "monitor")
	if err := os.MkdirAll(monitor, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(monitor, name), wav.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	end := first.Start.Add(time.Minute)
	if err := st.CreateRecording(ctx, store.Recording{UUID: recUUID, CallID: first.ID, TenantUUID: tenantID,
		Start: first.Start.Add(3 * time.Second), End: &end, Filename: name, Format: string(recording.WAV),
		Size: int64(wav.Len()), State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wav.Bytes())
	for k, v := range map[string]string{"WAZOSDK_ADMIN_TOKEN": admin, "WAZOSDK_USER_TOKEN": user, "WAZOSDK_USER_UUID": olga.UUID,
		"WAZOSDK_USER_EXTEN": olgaExt, "WAZOSDK_PEER_NUMBER": anaExt, "WAZOSDK_MEDIA_SHA256": hex.EncodeToString(sum[:])} {
		c.env[k] = v
	}
	return olga, ana
}

// run runs compat.cjs with the given parts and fails on any failed check.
func (c *callrecd) run(t *testing.T, parts string) {
	t.Helper()
	if _, err := os.Stat("node_modules/@wazo/sdk/package.json"); err != nil {
		t.Fatalf("@wazo/sdk is not installed: run make deps (npm ci in integration/wazosdk): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "compat.cjs")
	cmd.Env = append(os.Environ(), "WAZOSDK_PARTS="+parts, "NODE_EXTRA_CA_CERTS="+c.caCert)
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	checks := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			Check string `json:"check"`
			OK    bool   `json:"ok"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Check != "" && line.OK {
			checks++
		}
	}
	if err != nil || !strings.Contains(string(out), `{"done":`) || checks == 0 {
		t.Fatalf("compat.cjs %s: %v\n%s\ncallrecd log (the link's retries left out):\n%s", parts, err, out, c.logTail())
	}
	t.Logf("compat.cjs %s: %d checks passed", parts, checks)
}

// logTail is callrecd's log without the PBX link's retry lines, at most
// the last 200 lines.
func (c *callrecd) logTail() string {
	var keep []string
	for _, l := range strings.Split(c.logs.String(), "\n") {
		if !strings.Contains(l, "retrying") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-200):], "\n")
}

// TestWazoSDKConfdAndCallLogd: confd users (get, update) and call-logd
// (list, search, distinct, from date, a user's CDRs, media, a wrong role)
// through the SDK against a callrecd without a PBX.
func TestWazoSDKConfdAndCallLogd(t *testing.T) {
	c := start(t, nil)
	c.seed(t, "1015", "1011")
	c.run(t, "confd,calllogd")
}

// syncBuf is callrecd's log, written by its goroutines, read on failure.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWazoSDKRecordsALiveCall: calld's record start, pause, resume and
// stop through the SDK on a live call of the Asterisk lab; the index then
// holds one recording, paused once, stopped by the API.
func TestWazoSDKRecordsALiveCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := lab.CheckUp(ctx); err != nil {
		t.Fatalf("the Asterisk lab is not up (scripts/asterisk-lab up): %v", err)
	}
	astroot, err := lab.ASTRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, func(cfg *config.Config) {
		cfg.PBX.Asterisk.URL = "http://127.0.0.1:8088/ari"
		cfg.PBX.Asterisk.RecordingSpool = filepath.Join(astroot, "var/spool/asterisk/recording")
		cfg.PBX.RequestTimeout, cfg.PBX.ConnectTimeout = 3*time.Second, 2*time.Second
	})
	olga, _ := c.seed(t, "1001", "1002")
	waitFor(t, 20*time.Second, "callrecd linked to the lab", func() bool { return c.sys.Ready() == nil })

	drv, err := lab.NewDriver(ctx, lab.DefaultDriverConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	caller, err := drv.CallPhone(ctx, "1001", "1002")
	if err != nil {
		t.Fatal(err)
	}
	callee, err := drv.Incoming(ctx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := caller.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	// Wazo's call_id is Olga's channel.
	var channel string
	var cdrID int64
	waitFor(t, 10*time.Second, "the call in callrecd with Olga's channel", func() bool {
		for _, ci := range c.sys.Executor.Calls(tenantID) {
			for _, p := range ci.Parties {
				if p.UserUUID == olga.UUID && p.Answered {
					channel, cdrID = p.Channel, ci.ID
					return true
				}
			}
		}
		return false
	})
	c.env["WAZOSDK_CALL_ID"] = channel
	c.run(t, "calld")
	_ = caller.Hangup(ctx)
	_ = callee.Hangup(ctx)

	var rec store.Recording
	waitFor(t, 20*time.Second, "the recording stopped and filed", func() bool {
		call, err := c.sys.Store.GetCall(ctx, tenantID, cdrID)
		if err != nil || len(call.Recordings) != 1 {
			return false
		}
		rec = call.Recordings[0]
		return rec.State == string(recording.StateStopped) && rec.Size > 0
	})
	if rec.StartedBy != string(recording.ByAPI) || rec.StopReason != string(recording.StopAPI) || len(rec.PausedIntervals) != 1 ||
		rec.PausedIntervals[0].End == nil {
		t.Fatalf("recording after start/pause/resume/stop: %+v", rec)
	}
}

// waitFor polls cond every 20 ms until it holds; past within, it fails.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
