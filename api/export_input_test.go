package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
)

// Bad parameters are 400 naming the field (Wazo's test_given_wrong_params
// values); unknown keys are ignored, never a 400.
func TestExportBadInput(t *testing.T) {
	x := newExportEnv(t)
	for _, tc := range []struct{ query, body, field string }{
		{"from=abcd", "", "from"}, {"from=2017-042-10", "", "from"}, {"until=12:345", "", "until"},
		{"to=-1", "", "to"}, {"call_direction=abcd", "", "call_direction"}, {"email=abcd", "", "email"},
		{"from_id=-1", "", "from_id"}, {"from_id=abcd", "", "from_id"}, {"recurse=abcd", "", "recurse"},
		{"user_uuid=12:345", "", "user_uuid"}, {"tags=a,,b", "", "tags"},
		{"", `{"cdr_ids": "10"}`, "cdr_ids"}, {"", `{"cdr_ids": [1.5]}`, "cdr_ids"},
	} {
		r := x.post(tc.query, tc.body)
		wantError(t, r, 400, "")
		if d, _ := r.json(t)["details"].(map[string]any); d[tc.field] == nil {
			t.Errorf("%s %s: details do not name %s: %s", tc.query, tc.body, tc.field, r.body)
		}
	}
	wantError(t, x.post("", `{"cdr_ids": [`), 400, "invalid-data")
	// Unknown keys (Wazo's client adds some) and an empty body are fine.
	if r := x.post("foo=bar&direction=desc&limit=3", ""); r.status != 202 {
		t.Fatalf("unknown keys: %d %s", r.status, r.body)
	}
	if r := x.post("email=someone%40example.com", "{}"); r.status != 400 || !strings.Contains(string(r.body), "smtp.host") {
		t.Fatalf("e-mail without SMTP: %d %s", r.status, r.body)
	}
	jobs, _ := x.store.ListExportJobs(context.Background(), "", store.Page{})
	if len(jobs) != 1 {
		t.Fatalf("a refused request made a job: %d jobs", len(jobs))
	}
}

// What Wazo's Python client sends for the seed's weekly script: tenant_uuid
// in the query (no header needed with a system token), from and to, body
// {}. callrecd reads to as until, so the export is the week asked for.
func TestExportPythonClientQuery(t *testing.T) {
	x := newExportEnv(t)
	q := url.Values{"tenant_uuid": {tenantA}, "from": {"2021-05-10T00:00:00"}, "to": {"2021-05-17T00:00:00"}}
	r := x.call("POST", "/api/call-logd/1.0/cdr/recordings/media/export?"+q.Encode(), x.tokens["system"], "{}")
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	id, _ := r.json(t)["uuid"].(string)
	j, err := x.store.GetExportJob(context.Background(), tenantA, id)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := export.ParseFilter(j.Query)
	if f.Until == nil || !f.Until.Equal(time.Date(2021, 5, 17, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("until %v, want the to= value", f.Until)
	}
	// The same week before the seed's call: nothing to export.
	q.Set("from", "2021-05-03T00:00:00")
	q.Set("to", "2021-05-10T00:00:00")
	r = x.call("POST", "/api/call-logd/1.0/cdr/recordings/media/export?"+q.Encode(), x.tokens["system"], "{}")
	wantError(t, r, 400, "no-recording-to-export")
	// tenant_uuid naming another tenant than the admin's own is refused.
	r = x.call("POST", "/api/call-logd/1.0/cdr/recordings/media/export?tenant_uuid="+tenantB, x.tokens["adminA"], "{}")
	if r.status != 401 && r.status != 403 {
		t.Fatalf("admin of A as B: %d %s", r.status, r.body)
	}
}

// cdr_ids are ANDed with the filters; an empty list is ignored; another
// tenant's ids and deleted recordings give nothing to export.
func TestExportCDRIDs(t *testing.T) {
	x := newExportEnv(t)
	wantError(t, x.post("", fmt.Sprintf(`{"cdr_ids": [%d]}`, x.callB.ID)), 400, "no-recording-to-export")
	wantError(t, x.post("call_direction=inbound", fmt.Sprintf(`{"cdr_ids": [%d]}`, x.callA.ID)), 400, "no-recording-to-export")
	if r := x.post("", fmt.Sprintf(`{"cdr_ids": [%d, 999]}`, x.callA.ID)); r.status != 202 {
		t.Fatalf("own id: %d %s", r.status, r.body)
	}
	if r := x.post("", `{"cdr_ids": []}`); r.status != 202 {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	if err := x.store.MarkRecordingDeleted(context.Background(), tenantA, recSeed, time.Now()); err != nil {
		t.Fatal(err)
	}
	wantError(t, x.post("", "{}"), 400, "no-recording-to-export")
}

// The e-mailed link's token downloads that one export, nothing else, and
// stops working after 48 hours.
func TestExportLinkTokenIsScoped(t *testing.T) {
	x := newExportEnv(t)
	ctx := context.Background()
	id1, _ := x.post("", "{}").json(t)["uuid"].(string)
	id2, _ := x.post("", "{}").json(t)["uuid"].(string)
	j1, j2 := x.wait(id1), x.wait(id2)
	if j1.UUID != id1 {
		j1, j2 = j2, j1
	}
	link, err := x.svc.DownloadLink(ctx, j1)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	if !strings.HasPrefix(link, x.base+"/api/call-logd/1.0/exports/"+id1+"/download?") || u.Query().Get("tenant") != tenantA {
		t.Fatalf("link %s", link)
	}
	tok := u.Query().Get("token")
	if r := x.call("GET", u.RequestURI(), "", ""); r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	wantError(t, x.call("GET", "/api/call-logd/1.0/exports/"+j2.UUID+"/download?token="+tok, "", ""), 404, "export-not-found-with-given-uuid")
	wantError(t, x.call("GET", "/api/call-logd/1.0/exports/"+id1+"/download?tenant="+tenantB+"&token="+tok, "", ""), 404, "export-not-found-with-given-uuid")
	for _, p := range []string{"/api/call-logd/1.0/exports/" + id1, "/api/call-logd/1.0/cdr?token=" + tok} {
		if r := x.call("GET", p, tok, ""); r.status != 401 {
			t.Errorf("link token on %s: %d", p, r.status)
		}
	}
	audit, _ := x.store.ListAudit(ctx, store.AuditFilter{Tenant: tenantA})
	found := false
	for _, a := range audit {
		found = found || (a.Action == "export.download" && a.Actor == "token:export-link:"+id1)
	}
	if !found {
		t.Error("the link's download is not audited")
	}
	x.advance(48*time.Hour + time.Second)
	wantError(t, x.call("GET", u.RequestURI(), "", ""), 401, "unauthorized")
}

// Schedules over the API: CRUD for admins, each tenant its own, invalid
// expressions and windows refused naming the field, config schedules
// read-only.
func TestExportSchedulesAPI(t *testing.T) {
	x := newExportEnv(t)
	ctx := context.Background()
	p := "/api/callrecd/1.0/export-schedules"
	admin := x.tokens["adminA"]
	r := x.call("POST", p, admin, `{"name":"weekly","cron":"22 1 * * 1","window":"previous_week","email":"c@example.com","filters":{"call_direction":"inbound","tags":["sales"]}}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	sc := r.json(t)
	id, _ := sc["uuid"].(string)
	if sc["tenant_uuid"] != tenantA || sc["enabled"] != true || sc["source"] != "api" || sc["next_run_at"] == nil ||
		sc["filters"].(map[string]any)["call_direction"] != "inbound" {
		t.Fatalf("created %s", r.body)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"a","cron":"22 1 * *","window":"previous_week"}`, "cron"},
		{`{"name":"a","cron":"TZ=UTC 22 1 * * 1","window":"previous_week"}`, "cron"},
		{`{"name":"a","cron":"@weekly","window":"last_week"}`, "window"},
		{`{"name":"","cron":"@weekly","window":"previous_week"}`, "name"},
		{`{"name":"a","cron":"@weekly","window":"previous_week","webhook":"ftp://x"}`, "webhook"},
		{`{"name":"a","cron":"@weekly","window":"previous_week","directory":"rel/dir"}`, "directory"},
		{`{"name":"a","cron":"@weekly","window":"previous_week","filters":{"user_uuid":["nope"]}}`, "filters.user_uuid"},
		{`{"name":"a","cron":"@weekly","window":"previous_week","filters":{"call_direction":"sideways"}}`, "filters.call_direction"},
	} {
		r := x.call("POST", p, admin, tc.body)
		wantError(t, r, 400, "invalid-data")
		if d, _ := r.json(t)["details"].(map[string]any); d[tc.field] == nil {
			t.Errorf("%s: details do not name %s: %s", tc.body, tc.field, r.body)
		}
	}
	if r := x.call("POST", p, admin, `{"name":"weekly","cron":"@daily","window":"previous_day"}`); r.status != 409 {
		t.Fatalf("duplicate name: %d %s", r.status, r.body)
	}
	r = x.call("PUT", p+"/"+id, admin, `{"name":"weekly","cron":"@monthly","window":"previous_month","enabled":false}`)
	if r.status != 200 || r.json(t)["cron"] != "@monthly" || r.json(t)["enabled"] != false || r.json(t)["next_run_at"] != nil {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if l := x.call("GET", p, admin, "").json(t); l["total"] != 1.0 {
		t.Fatalf("list %v", l)
	}
	if l := x.call("GET", p, x.tokens["adminB"], "").json(t); l["total"] != 0.0 {
		t.Fatalf("B's list %v", l)
	}
	wantError(t, x.call("GET", p+"/"+id, x.tokens["adminB"], ""), 404, "")
	wantError(t, x.call("DELETE", p+"/"+id, x.tokens["adminB"], ""), 404, "")
	if r := x.call("DELETE", p+"/"+id, admin, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// A schedule of the configuration file cannot be changed here.
	if err := x.store.SyncConfigSchedules(ctx, []store.ExportSchedule{{UUID: newUUID(t), TenantUUID: tenantA,
		Name: "from-config", Cron: "22 1 * * 1", Period: store.PeriodPreviousWeek, Enabled: true}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	scs, _ := x.store.ListExportSchedules(ctx, tenantA)
	if len(scs) != 1 {
		t.Fatalf("schedules %v", scs)
	}
	wantError(t, x.call("PUT", p+"/"+scs[0].UUID, admin, `{"name":"x","cron":"@daily","window":"previous_day"}`), 409, "schedule-from-config")
	wantError(t, x.call("DELETE", p+"/"+scs[0].UUID, admin, ""), 409, "schedule-from-config")
	audit, _ := x.store.ListAudit(ctx, store.AuditFilter{Tenant: tenantA})
	acts := map[string]bool{}
	for _, a := range audit {
		acts[a.Action] = true
	}
	for _, a := range []string{"export_schedule.create", "export_schedule.update", "export_schedule.delete"} {
		if !acts[a] {
			t.Errorf("no %s in the audit log", a)
		}
	}
}
