//go:build browser

package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

type apiExport struct {
	UUID         string `json:"uuid"`
	Status       string `json:"status"`
	FilesTotal   int    `json:"files_total"`
	FilesDone    int    `json:"files_done"`
	FilesMissing int    `json:"files_missing"`
}

type apiSchedule struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Cron    string `json:"cron"`
	Window  string `json:"window"`
	Email   string `json:"email"`
	Enabled bool   `json:"enabled"`
	Filters struct {
		CallDirection string   `json:"call_direction"`
		UserUUIDs     []string `json:"user_uuid"`
	} `json:"filters"`
	NextRunAt *string `json:"next_run_at"`
}

func (s *site) apiSchedules() []apiSchedule {
	s.t.Helper()
	var list struct {
		Items []apiSchedule `json:"items"`
	}
	s.api("/api/callrecd/1.0/export-schedules", &list)
	return list.Items
}

// The Exports page: an export of the seeded recordings of a date range and
// a user, watched to its end, its zip downloaded and read, the export in
// the list of past exports; then a schedule: a bad cron refused with the
// API's message, created, listed, disabled and deleted, each step read back
// from the API.
func TestAdminExportsRecordingsAndSchedulesThem(t *testing.T) {
	s := newSite(t)
	b := newTab(t, s)
	b.open("/ui/", `document.querySelector('#signin-username') !== null`)
	b.signIn("admin", adminPassword)
	b.waitRows("the recordings", s.apiIDs("recorded=true&limit=25"))
	b.click(`nav a[data-route=exports]`)
	b.waitFor("the exports page", `document.querySelector('#exports-table')?.dataset.loaded === 'true' &&
		document.querySelector('#schedules-table')?.dataset.loaded === 'true' &&
		[...document.querySelectorAll('#x-user option')].some(o => o.textContent === 'Olga Petrova') &&
		document.querySelector('nav a[data-route=exports]').getAttribute('aria-current') === 'page'`)
	if !strings.HasSuffix(b.location(), "/ui/exports") {
		t.Fatalf("the Exports link led to %s", b.location())
	}
	b.checkControls("exports page")
	b.checkA11y("exports page")

	// An export of Olga's recorded calls on days 21 and 22.
	var calls []*seeded
	for _, id := range s.recordedIDs(func(c *seeded) bool {
		return (c.spec.from == olga || c.spec.to == olga) && (s.day(c) == 21 || s.day(c) == 22)
	}) {
		calls = append(calls, s.calls[id])
	}
	if len(calls) != 4 {
		t.Fatalf("test data: %d of Olga's calls on days 21 and 22, want 4", len(calls))
	}
	// Filters nothing matches: the API's message next to the form.
	b.expectNetworkError(`status of 400 .*/api/call-logd/1\.0/cdr/recordings/media/export\?search=nobody`)
	b.choose("#x-search", "nobody at all")
	b.click("#export-start")
	b.refused("an export of nothing", "#export-msg", "No recording to export")
	b.choose("#x-search", "")

	b.choose("#x-from", s.date(21))
	b.choose("#x-until", s.date(22))
	b.choose("#x-user", userOlga)
	b.click("#export-start")
	b.waitFor("the export finished", `(() => {
		const job = document.querySelector('#export-job'), bar = document.querySelector('#export-job-progress');
		return !job.hidden && job.dataset.status === 'finished' && bar.value === bar.max &&
			document.querySelector('#export-job-status').textContent === 'Finished: 4 files.' &&
			!document.querySelector('#export-job-download').hidden; })()`)
	var id string
	b.eval(`document.querySelector('#export-job').dataset.export`, &id)
	var st apiExport
	s.api("/api/call-logd/1.0/exports/"+id, &st)
	if st.Status != "finished" || st.FilesTotal != 4 || st.FilesDone != 4 || st.FilesMissing != 0 {
		t.Fatalf("the export the page started: %+v", st)
	}
	b.waitFor("the export in the past exports", fmt.Sprintf(
		`document.querySelector('#exports-table tr[data-export-uuid="%s"][data-status="finished"] a[download]') !== null`, id))
	b.checkA11y("a finished export")
	b.shoot("exports")
	b.shootAt("exports-past", "#past-exports")

	before := b.downloadsSoFar()
	b.click("#export-job-download")
	s.checkZip(b.waitDownload(before), calls)
	before = b.downloadsSoFar()
	b.click(fmt.Sprintf(`#exports-table tr[data-export-uuid="%s"] a[download]`, id))
	s.checkZip(b.waitDownload(before), calls)

	// A schedule: a bad cron is refused with the API's message.
	b.expectNetworkError(`status of 400 .*/api/callrecd/1\.0/export-schedules$`)
	b.choose("#sch-name", "Weekly compliance")
	b.choose("#sch-cron", "every monday")
	b.choose("#sch-window", "previous_week")
	b.choose("#sch-email", "compliance@example.com")
	b.choose("#sch-direction", "inbound")
	b.click("#schedule-create")
	b.refused("a bad cron", "#schedule-msg", "Input Error - cron: not a 5-field cron expression")
	b.flagged("#sch-cron")
	if scs := s.apiSchedules(); len(scs) != 0 {
		t.Fatalf("a refused schedule was created: %+v", scs)
	}
	b.shootAt("export-schedule-refused", "#schedules")

	b.choose("#sch-cron", "22 1 * * 1")
	b.click("#schedule-create")
	b.waitFor("the schedule listed", `document.querySelector('#schedule-msg').textContent === 'The schedule Weekly compliance was created.' &&
		document.querySelectorAll('#schedules-table tr[data-schedule-uuid][data-enabled="true"]').length === 1`)
	scs := s.apiSchedules()
	if len(scs) != 1 {
		t.Fatalf("schedules after the page created one: %+v", scs)
	}
	sc := scs[0]
	if sc.Name != "Weekly compliance" || sc.Cron != "22 1 * * 1" || sc.Window != "previous_week" ||
		sc.Email != "compliance@example.com" || !sc.Enabled || sc.Filters.CallDirection != "inbound" ||
		len(sc.Filters.UserUUIDs) != 0 || sc.NextRunAt == nil {
		t.Fatalf("the schedule the page created: %+v", sc)
	}
	row := fmt.Sprintf(`#schedules-table tr[data-schedule-uuid="%s"]`, sc.UUID)
	var cells []string
	b.eval(`[...document.querySelectorAll('`+row+` td')].map(td => td.textContent)`, &cells)
	for _, w := range []string{"22 1 * * 1", "The previous week, Monday to Monday", "Inbound", "compliance@example.com", "Never", "Enabled"} {
		if !slices.Contains(cells, w) {
			t.Errorf("the schedule's row %q lacks %q", cells, w)
		}
	}
	b.checkControls("exports page with a schedule")
	b.checkA11y("a schedule")
	b.shootAt("export-schedules", "#schedules")

	b.click(row + ` button[data-action=toggle]`)
	b.waitFor("the schedule disabled", `document.querySelector('`+row+`')?.dataset.enabled === 'false' &&
		document.querySelector('`+row+` .schedule-state').textContent === 'Disabled' &&
		document.activeElement === document.querySelector('`+row+` button[data-action=toggle]')`)
	if scs := s.apiSchedules(); len(scs) != 1 || scs[0].Enabled || scs[0].Cron != sc.Cron || scs[0].Email != sc.Email ||
		scs[0].Filters.CallDirection != "inbound" {
		t.Fatalf("the schedule after the page disabled it: %+v", scs)
	}

	b.click(row + ` button[data-action=delete]`)
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm[open]') !== null`)
	b.checkA11y("the schedule's delete confirmation")
	b.click(`dialog.confirm button.danger`)
	b.waitFor("the schedule gone", `document.querySelector('`+row+`') === null &&
		document.querySelector('#schedules-msg').textContent === 'The schedule Weekly compliance was deleted.'`)
	if scs := s.apiSchedules(); len(scs) != 0 {
		t.Fatalf("schedules after the page deleted one: %+v", scs)
	}
}

// fetchStatus sends one API request from the page, as the page would
// (the session's CSRF token, JSON), and gives the status and error_id.
func (b *tab) fetchStatus(method, path, body string) (int, string) {
	b.t.Helper()
	var out struct {
		Status  int    `json:"status"`
		ErrorID string `json:"error_id"`
	}
	b.eval(fmt.Sprintf(`(async () => {
		const s = await (await fetch('/api/callrecd/1.0/session')).json();
		const init = {method: %q, headers: {'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json'}};
		if (%q !== '') init.body = %q;
		const r = await fetch(%q, init);
		const j = await r.json().catch(() => ({}));
		return {status: r.status, error_id: j.error_id || ''};
	})()`, method, body, body, path), &out)
	return out.Status, out.ErrorID
}

// A user's account has neither the Settings nor the Exports page: no link
// to them, their addresses show the user's own recordings, and every API
// route behind them answers 403, whatever the user sends.
func TestUserHasNoSettingsOrExports(t *testing.T) {
	s := newSite(t)
	s.seedGroups()
	b := newTab(t, s)
	b.open("/ui/exports", `document.querySelector('#signin-username') !== null`)
	b.signIn("olga", olgaPassword)
	mine := `document.querySelector('[data-page=recordings] h1')?.textContent === 'My call recordings' &&
		location.pathname === '/ui/'`
	b.waitFor("Olga's recordings instead of the exports", mine)
	var links []string
	b.eval(`[...document.querySelectorAll('nav[aria-label=Main] a')].filter(a => !a.hidden).map(a => a.textContent)`, &links)
	if !slices.Equal(links, []string{"Recordings"}) {
		t.Fatalf("a user's navigation shows %v", links)
	}
	b.open("/ui/settings", mine)
	b.open("/ui/exports", mine)

	b.expectNetworkError(`status of 403 `)
	const unknown = "3f2a9d61-0c4e-4b7a-9e15-6a8d2c1b0f47"
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/callrecd/1.0/tenants/" + tenantAcme, ""},
		{"PUT", "/api/callrecd/1.0/tenants/" + tenantAcme, `{"format":"mp3"}`},
		{"GET", "/api/call-logd/1.0/retention", ""},
		{"PUT", "/api/call-logd/1.0/retention", `{"cdr_days":1}`},
		{"GET", "/api/confd/1.1/users", ""},
		{"PUT", "/api/confd/1.1/users/" + userOlga, `{"online_call_record_enabled":false}`},
		{"GET", "/api/confd/1.1/groups", ""},
		{"PUT", "/api/confd/1.1/groups/" + groupSales, `{"dtmf_record_toggle":true}`},
		{"PUT", "/api/confd/1.1/queues/" + queueSupport, `{"dtmf_record_toggle":false}`},
		{"GET", "/api/confd/1.1/extensions/features", ""},
		{"PUT", "/api/confd/1.1/extensions/features/1", `{"enabled":false}`},
		{"POST", "/api/call-logd/1.0/cdr/recordings/media/export", `{}`},
		{"GET", "/api/call-logd/1.0/exports/" + unknown, ""},
		{"GET", "/api/call-logd/1.0/exports/" + unknown + "/download", ""},
		{"GET", "/api/callrecd/1.0/exports", ""},
		{"GET", "/api/callrecd/1.0/export-schedules", ""},
		{"POST", "/api/callrecd/1.0/export-schedules", `{"name":"mine","cron":"@weekly","window":"previous_week"}`},
		{"DELETE", "/api/callrecd/1.0/export-schedules/" + unknown, ""},
	} {
		if status, errID := b.fetchStatus(r.method, r.path, r.body); status != 403 || errID != "forbidden" {
			t.Errorf("Olga's session %s %s: %d %q, want 403 forbidden", r.method, r.path, status, errID)
		}
	}
	if tn := s.apiTenant(); tn.Format != "wav" {
		t.Fatalf("a user changed the tenant: %+v", tn)
	}
	if scs := s.apiSchedules(); len(scs) != 0 {
		t.Fatalf("a user created a schedule: %+v", scs)
	}
	if !s.apiToggle("queue", queueSupport) || s.apiToggle("group", groupSales) {
		t.Fatal("a user changed a group or a queue")
	}
	b.checkA11y("a user sent back from the exports")
}
