package doctor

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/store"
)

// checkAsterisk: ARI answers with these credentials, the version, the
// modules to avoid, that the application is not taken by another client
// (unless callrecd itself holds it: held), that the configured trunks and
// the users' endpoints exist as PJSIP endpoints, and what the probe finds
// (channel variables, a test recording).
func checkAsterisk(ctx context.Context, cfg config.Config, timeout time.Duration, held bool) []Result {
	ast := cfg.PBX.Asterisk
	rest := ari.NewREST(ast.URL, ast.Username, ast.Password, timeout)
	defer rest.Close()
	var info struct {
		System struct {
			Version string `json:"version"`
		} `json:"system"`
	}
	link := Result{Check: "ARI (pbx.asterisk.url, username, password)"}
	err := rest.Do(ctx, http.MethodGet, "/asterisk/info", nil, nil, &info)
	switch code := ari.StatusOf(err); {
	case err == nil:
		link.Status, link.Detail = OK, fmt.Sprintf("%s answers, Asterisk %s", ast.URL, info.System.Version)
	case code == http.StatusUnauthorized:
		return []Result{{Check: link.Check, Status: Fail, Detail: "ARI refused the credentials (401)",
			Fix: "give ari.conf a [" + ast.Username + "] type=user read_only=no password=… matching pbx.asterisk.password, then `module reload res_ari.so`"}}
	case code != 0:
		return []Result{{Check: link.Check, Status: Fail, Detail: err.Error(),
			Fix: "check pbx.asterisk.url (it ends in /ari) and that res_ari is loaded"}}
	default:
		return []Result{{Check: link.Check, Status: Fail, Detail: err.Error(),
			Fix: "http.conf: enabled=yes, bindaddr and bindport matching pbx.asterisk.url; is Asterisk running?"}}
	}
	out := []Result{link}

	var mods []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	modRes := Result{Check: "Asterisk modules"}
	if err := rest.Do(ctx, http.MethodGet, "/asterisk/modules", nil, nil, &mods); err != nil {
		modRes.Status, modRes.Detail = Warn, "cannot list modules: "+err.Error()
	} else {
		var bad []string
		for _, m := range mods {
			if (m.Name == "res_ari_device_states.so" || m.Name == "res_stasis_device_state.so") && strings.EqualFold(m.Status, "running") {
				bad = append(bad, m.Name)
			}
		}
		modRes.Status, modRes.Detail = OK, fmt.Sprintf("%d modules; none of the ones to avoid", len(mods))
		if len(bad) > 0 {
			modRes.Status, modRes.Detail = Warn, strings.Join(bad, ", ")+" loaded: ARI can lock up when a websocket closes during a device-state event (asterisk/asterisk#2170)"
			modRes.Fix = "unless something else of yours uses them, add noload => res_ari_device_states.so and noload => res_stasis_device_state.so to modules.conf"
		}
	}
	out = append(out, modRes)

	var apps []struct {
		Name string `json:"name"`
	}
	appRes := Result{Check: "ARI application (pbx.asterisk.app)"}
	if held {
		appRes.Status, appRes.Detail = OK, ast.App+" is held by this callrecd"
	} else if err := rest.Do(ctx, http.MethodGet, "/applications", nil, nil, &apps); err != nil {
		appRes.Status, appRes.Detail = Warn, "cannot list applications: "+err.Error()
	} else if slices.ContainsFunc(apps, func(a struct {
		Name string `json:"name"`
	}) bool {
		return a.Name == ast.App
	}) {
		appRes.Status, appRes.Detail = Warn, "application "+ast.App+" is registered: another client (or a running callrecd) holds it"
		appRes.Fix = "stop the other client, or give this callrecd another pbx.asterisk.app (and the dialplan's Stasis() calls)"
	} else {
		appRes.Status, appRes.Detail = OK, ast.App+" is free"
	}
	out = append(out, appRes)

	var eps []struct {
		Technology string `json:"technology"`
		Resource   string `json:"resource"`
	}
	epRes := Result{Check: "trunks (trunks.endpoints)"}
	if err := rest.Do(ctx, http.MethodGet, "/endpoints", nil, nil, &eps); err != nil {
		epRes.Status, epRes.Detail = Warn, "cannot list endpoints: "+err.Error()
		return append(append(out, epRes), probeAsterisk(ctx, cfg, rest, timeout)...)
	}
	have := map[string]bool{}
	for _, e := range eps {
		have[e.Resource] = true
	}
	var missing []string
	for _, tr := range cfg.Trunks.Endpoints {
		if !have[tr] {
			missing = append(missing, tr)
		}
	}
	switch {
	case len(cfg.Trunks.Endpoints)+len(cfg.Trunks.EndpointPrefixes) == 0:
		epRes.Status, epRes.Detail = Warn, "no trunk configured: every endpoint counts as a phone, the external-to-external rule never fires"
		epRes.Fix = "list your carriers' PJSIP endpoints in trunks.endpoints (or trunks.endpoint_prefixes)"
	case len(missing) > 0:
		epRes.Status, epRes.Detail = Fail, "not PJSIP endpoints of this Asterisk: "+strings.Join(missing, ", ")
		epRes.Fix = "trunks.endpoints must name pjsip.conf endpoint sections exactly"
	default:
		epRes.Status, epRes.Detail = OK, fmt.Sprintf("%d endpoints; the trunks exist", len(eps))
	}
	out = append(out, epRes, checkUserEndpoints(ctx, cfg, have))
	return append(out, probeAsterisk(ctx, cfg, rest, timeout)...)
}

// checkUserEndpoints: every endpoint a user has in callrecd's index is one
// the PBX knows (a typo there means that user's calls are never matched:
// no automatic recording, no *3).
func checkUserEndpoints(ctx context.Context, cfg config.Config, have map[string]bool) Result {
	res := Result{Check: "users' endpoints (confd users, import)"}
	s, err := store.OpenCurrent(ctx, cfg.Database.Path)
	if err != nil {
		res.Status, res.Detail = OK, "not checked: no current database yet"
		return res
	}
	defer s.Close()
	eps, err := s.ListUserEndpoints(ctx)
	if err != nil {
		res.Status, res.Detail = Warn, err.Error()
		return res
	}
	var missing []string
	for _, e := range eps {
		if !have[e.Endpoint] {
			missing = append(missing, fmt.Sprintf("%s (user %s)", e.Endpoint, cmp.Or(e.Extension, e.UserUUID)))
		}
	}
	if len(missing) > 0 {
		res.Status, res.Detail = Fail, "not endpoints of this PBX: "+strings.Join(missing, ", ")
		res.Fix = "a user's endpoints must name the PBX's endpoints exactly (PUT /api/confd/1.1/users/{uuid} or the import file)"
		return res
	}
	res.Status, res.Detail = OK, fmt.Sprintf("the %d endpoints of callrecd's users exist", len(eps))
	return res
}

// checkFreeSWITCH: the event socket answers and takes the password, and
// the version has uuid_record pause/resume (1.10.7).
func checkFreeSWITCH(ctx context.Context, cfg config.Config, timeout time.Duration) []Result {
	fs := cfg.PBX.FreeSWITCH
	res := Result{Check: "event socket (pbx.freeswitch.address, password)"}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := esl.Dial(dctx, esl.Config{Addr: fs.Address, Password: fs.Password, DialTimeout: timeout, CommandTimeout: timeout})
	if err != nil {
		res.Status, res.Detail = Fail, err.Error()
		res.Fix = "event_socket.conf.xml: listen-ip/listen-port matching pbx.freeswitch.address and the same password; is FreeSWITCH running?"
		return []Result{res}
	}
	defer c.Close()
	version, err := c.API(dctx, "version")
	if err != nil {
		res.Status, res.Detail, res.Fix = Fail, "logged in, but `api version` failed: "+err.Error(), "check that the event socket allows api commands"
		return []Result{res}
	}
	version = strings.TrimSpace(version)
	res.Status, res.Detail = OK, fs.Address+" answers: "+version
	out := []Result{res}
	pause := Result{Check: "FreeSWITCH version"}
	if v, ok := versionOf(version); ok && slices.Compare(v[:], []int{1, 10, 7}) < 0 {
		pause.Status, pause.Detail = Warn, "before 1.10.7: uuid_record has no pause/resume; paused spans become silence in the file (mask)"
		pause.Fix = "upgrade FreeSWITCH to 1.10.7 or later to leave paused time out of the file"
	} else {
		pause.Status, pause.Detail = OK, "uuid_record pause/resume available"
	}
	return append(out, pause)
}

// versionOf reads "FreeSWITCH Version 1.10.12-release…" as {1, 10, 12}.
func versionOf(s string) ([3]int, bool) {
	_, rest, ok := strings.Cut(s, "Version ")
	if !ok {
		return [3]int{}, false
	}
	var v [3]int
	n, _ := fmt.Sscanf(rest, "%d.%d.%d", &v[0], &v[1], &v[2])
	return v, n == 3
}
