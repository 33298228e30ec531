package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SessionID returns the X-Session-Id header of the INVITE that reached this (incoming)
// party: the session id the PBX's dialplan hands phones for SIP MESSAGE recording control.
func (p *Party) SessionID(ctx context.Context) (string, error) {
	var v struct {
		Value string `json:"value"`
	}
	q := url.Values{"variable": {"PJSIP_HEADER(read,X-Session-Id)"}}
	if err := p.d.c.Do(ctx, http.MethodGet, "/channels/"+p.ChannelID+"/variable", q, nil, &v); err != nil {
		return "", fmt.Errorf("lab: X-Session-Id of %s: %w", p, err)
	}
	return v.Value, nil
}

// SendMessage sends an out-of-dialog SIP MESSAGE to the PBX as phone from would (a raw
// UDP request from an ephemeral loopback port, From <sip:from@host>) and returns the
// status code of the PBX's final answer (202 when it took it).
func (d *Driver) SendMessage(ctx context.Context, from, contentType, body string) (int, error) {
	host, _, _ := splitHostPort(d.cfg.PBXSIP)
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "udp", d.cfg.PBXSIP)
	if err != nil {
		return 0, fmt.Errorf("lab: SIP MESSAGE: %w", err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	req := strings.Join([]string{
		"MESSAGE sip:callrecd@" + d.cfg.PBXSIP + " SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport", local, randomID()),
		"Max-Forwards: 70",
		fmt.Sprintf("From: <sip:%s@%s>;tag=%s", from, host, randomID()),
		"To: <sip:callrecd@" + host + ">",
		"Call-ID: " + randomID() + "@" + host,
		"CSeq: 1 MESSAGE",
		"Content-Type: " + contentType,
		"Content-Length: " + strconv.Itoa(len(body)),
		"", body,
	}, "\r\n")
	deadline := time.Now().Add(3 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, fmt.Errorf("lab: SIP MESSAGE: %w", err)
	}
	buf := make([]byte, 8192)
	for range 10 { // provisional answers first, then the final one
		n, err := conn.Read(buf)
		if err != nil {
			return 0, fmt.Errorf("lab: SIP MESSAGE: no answer from the PBX: %w", err)
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			return 0, fmt.Errorf("lab: SIP MESSAGE: unexpected answer %q", line)
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return 0, fmt.Errorf("lab: SIP MESSAGE: unexpected answer %q", line)
		}
		if code >= 200 {
			return code, nil
		}
	}
	return 0, fmt.Errorf("lab: SIP MESSAGE: no final answer")
}
