//go:build browser

package web_test

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The Call Recordings page in a real headless Chromium, on callrecd built
// as serve builds it: an administrator signs in, finds calls (search,
// filters, sorting, paging), plays recordings (double-click, Enter, the
// Play button) with their waveform and seeks, downloads one, opens a call,
// deletes, zips two through the export API, changes a user's recording
// flags (and sees the API refuse a bad value), and signs out.
func TestAdminWorksWithRecordings(t *testing.T) {
	s := newSite(t)
	b := newTab(t, s)

	b.open("/", `document.querySelector('#signin-username') !== null`)
	if !strings.HasSuffix(b.location(), "/ui/") {
		t.Fatalf("GET / led to %s, want /ui/", b.location())
	}
	b.checkA11y("sign-in page")
	b.shoot("signin")

	// A wrong password: the API's message, and no session.
	b.expectNetworkError(`status of 401 .*/api/callrecd/1\.0/session$`)
	b.signIn("admin", "not-the-password")
	b.waitFor("the sign-in error", `document.querySelector('.signin [role=alert]')?.textContent.includes('wrong username or password')`)

	b.signIn("admin", adminPassword)
	recorded := s.recordedIDs(nil)
	if len(recorded) != 12 {
		t.Fatalf("seeded %d recorded calls, want 12", len(recorded))
	}
	b.waitRows("the first page", s.apiIDs("recorded=true&limit=25"))
	b.waitFor("the page count", `document.querySelector('#page-info').textContent.includes('12 calls')`)
	b.checkDashboard(s, 12, map[int]int{20: 3, 21: 4, 22: 3, 23: 2})
	b.checkA11y("recordings page")
	b.shoot("recordings")

	// Server-side paging: 10 a page.
	b.choose("#f-limit", "10")
	b.waitRows("page 1 of 10", s.apiIDs("recorded=true&limit=10"))
	b.click("#page-next")
	b.waitRows("page 2", s.apiIDs("recorded=true&limit=10&offset=10"))
	b.waitFor("page 2 of 2", `document.querySelector('#page-info').textContent.startsWith('Page 2 of 2')`)
	b.click("#page-prev")
	b.waitRows("page 1 again", s.apiIDs("recorded=true&limit=10"))

	// Server-side sorting: by duration, longest first, then shortest first.
	b.click(`th[data-sort="duration"] button`)
	byDuration := s.apiIDs("recorded=true&limit=10&order=duration&direction=desc")
	b.waitRows("longest first", byDuration)
	b.waitFor("aria-sort", `document.querySelector('th[data-sort="duration"]').getAttribute('aria-sort') === 'descending'`)
	s.checkDurationsOrdered(byDuration, true)
	b.click(`th[data-sort="duration"] button`)
	ascending := s.apiIDs("recorded=true&limit=10&order=duration&direction=asc")
	b.waitRows("shortest first", ascending)
	s.checkDurationsOrdered(ascending, false)
	// By the recordings' columns too: the smallest file first, then the largest.
	b.click(`th[data-sort="recording_size"] button`)
	b.waitRows("smallest file first", s.apiIDs("recorded=true&limit=10&order=recording_size&direction=asc"))
	b.click(`th[data-sort="recording_size"] button`)
	b.waitRows("largest file first", s.apiIDs("recorded=true&limit=10&order=recording_size&direction=desc"))
	b.click(`th[data-sort="start"] button`)
	b.waitRows("newest first", s.apiIDs("recorded=true&limit=10&order=start&direction=desc"))
	b.choose("#f-limit", "25")
	b.waitRows("all recorded calls", s.apiIDs("recorded=true&limit=25"))

	// One search box and the filters.
	b.do(chromedp.SendKeys(chromedp.CSS("#f-search"), "33140000000"))
	b.waitRows("search a number", s.recordedIDs(func(c *seeded) bool { return c.spec.from == bank || c.spec.to == bank }))
	b.click(`button[type=reset]`)
	b.waitRows("cleared", s.apiIDs("recorded=true&limit=25"))
	b.choose("#f-direction", "inbound")
	b.waitRows("inbound", s.recordedIDs(func(c *seeded) bool { return c.spec.from.user == "" && c.spec.to.user != "" }))
	b.choose("#f-direction", "")
	b.choose("#f-from", s.date(21))
	b.choose("#f-until", s.date(21))
	b.waitRows("on day 21", s.recordedIDs(func(c *seeded) bool { return s.day(c) == 21 }))
	b.choose("#f-from", "")
	b.choose("#f-until", "")
	b.waitFor("Olga in the user filter", `[...document.querySelectorAll('#f-user option')].some(o => o.textContent === 'Olga Petrova')`)
	b.choose("#f-user", userOlga)
	b.waitRows("Olga's calls", s.recordedIDs(func(c *seeded) bool { return c.spec.from == olga || c.spec.to == olga }))
	b.waitFor("the user column", `[...document.querySelectorAll('#recordings-table td[data-col=user]')].every(td => td.textContent.includes('Olga Petrova'))`)
	b.choose("#f-user", "")
	b.choose("#f-recorded", "false")
	b.waitRows("calls not recorded", s.idsWhere(func(c *seeded) bool { return c.recording == "" }))
	b.choose("#f-recorded", "true")
	b.waitRows("recorded again", s.apiIDs("recorded=true&limit=25"))

	// Playing: double-click a row, Enter on a row, the Play button.
	paused := s.find(func(c *seeded) bool { return c.spec.pause > 0 })
	b.do(chromedp.DoubleClick(chromedp.CSS(fmt.Sprintf(`tr[data-cdr-id="%d"] td[data-col=from]`, paused.id))))
	b.waitPlaying(paused)
	b.waitFor("the waveform", `+document.querySelector('.player canvas').dataset.peaks > 100`)
	b.waitFor("the paused span on the waveform", `document.querySelector('.player canvas').dataset.paused === '1'`)
	b.checkA11y("player")
	b.shoot("player")
	b.seekOnWaveform(".player canvas", 0.5, paused.seconds)

	byKey := s.find(func(c *seeded) bool { return c.spec.from == ana && c.spec.to == mobile && c.spec.talk > 8 })
	b.do(chromedp.Focus(chromedp.CSS(fmt.Sprintf(`tr[data-cdr-id="%d"]`, byKey.id))), chromedp.KeyEvent(kb.Enter))
	b.waitPlaying(byKey)
	byButton := s.find(func(c *seeded) bool { return c.spec.from == supplier && s.day(c) == 23 })
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] button.play`, byButton.id))
	b.waitPlaying(byButton)

	// AMR: browsers cannot play it; the page plays the server's MP3 copy,
	// and Download still gives the AMR file itself.
	amr := s.find(func(c *seeded) bool { return c.spec.format == recording.AMR })
	if r := s.recordingRow(amr); r.Format != string(recording.AMR) {
		t.Fatalf("the AMR call's recording is %s", r.Format)
	}
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] button.play`, amr.id))
	b.waitPlaying(amr)
	before := b.downloadsSoFar()
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] a[download]`, amr.id))
	if head := fileHead(t, b.waitDownload(before), 6); head != "#!AMR\n" {
		t.Fatalf("downloaded AMR recording starts %q, not with the AMR magic", head)
	}

	// Download: the recording's own bytes.
	before = b.downloadsSoFar()
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] a[download]`, byButton.id))
	file := b.waitDownload(before)
	rec := s.recordingRow(byButton)
	if sum := fileSHA256(t, file); sum != rec.SHA256 {
		t.Fatalf("downloaded recording's sha256 %s, want %s", sum, rec.SHA256)
	}

	// Show call: its details and every recording.
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] button:last-child`, paused.id))
	b.waitFor("the call's dialog", fmt.Sprintf(`document.querySelector('dialog.call-detail[open][data-cdr-id="%d"] tr[data-recording-uuid="%s"]') !== null`,
		paused.id, paused.recording))
	b.checkA11y("call details")
	b.shoot("call-detail")
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor("the dialog closed", `document.querySelector('dialog') === null`)

	// Delete, after confirming.
	gone := s.find(func(c *seeded) bool { return c.spec.from == olga && s.day(c) == 22 })
	b.click(fmt.Sprintf(`tr[data-cdr-id="%d"] button.danger`, gone.id))
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm[open]') !== null`)
	b.checkA11y("delete confirmation")
	b.click(`dialog.confirm button.danger`)
	b.waitFor("the row says deleted", fmt.Sprintf(`document.querySelector('tr[data-cdr-id="%d"] td[data-col=state]')?.textContent === 'Deleted'`, gone.id))
	if r := s.recordingRow(gone); !r.Deleted {
		t.Fatalf("deleted in the page, not in the index: %+v", r)
	}
	if _, err := os.Stat(s.recordingPath(gone)); !os.IsNotExist(err) {
		t.Fatalf("the deleted recording's file is still there: %v", err)
	}

	// Select two, download them as a zip through the export API.
	two := []*seeded{paused, byKey}
	for _, c := range two {
		b.click(fmt.Sprintf("#select-%d", c.id))
	}
	b.waitFor("2 selected", `document.querySelector('#selection-info').textContent === '2 selected'`)
	before = b.downloadsSoFar()
	b.click("#selection-zip")
	zipFile := b.waitDownload(before)
	b.waitFor("the export's status", `document.querySelector('#export-status').textContent.includes('ready')`)
	s.checkZip(zipFile, two)

	// Delete the selection.
	b.click("#selection-delete")
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm[open]') !== null`)
	b.click(`dialog.confirm button.danger`)
	for _, c := range two {
		b.waitFor("deleted", fmt.Sprintf(`document.querySelector('tr[data-cdr-id="%d"] td[data-col=state]')?.textContent === 'Deleted'`, c.id))
		if r := s.recordingRow(c); !r.Deleted {
			t.Fatalf("call %d: not deleted in the index", c.id)
		}
	}

	// Settings: a user's flag, saved through the API; a bad extension is refused with the API's message.
	b.click(`nav a[data-route=settings]`)
	b.waitFor("the users", `document.querySelectorAll('#users-table tbody tr[data-user-uuid]').length === 3`)
	b.checkA11y("settings page")
	b.shootAt("settings", "#users")
	b.click("#call_record_incoming_external_enabled-" + userBob)
	b.click(fmt.Sprintf(`tr[data-user-uuid="%s"] button.primary`, userBob))
	b.waitFor("saved", fmt.Sprintf(`document.querySelector('#status-%s').textContent === 'Saved.'`, userBob))
	if u := s.user(userBob); !u.CallRecordIncomingExternalEnabled || u.CallRecordOutgoingExternalEnabled {
		t.Fatalf("Bob after the page saved his incoming external flag: %+v", u)
	}
	if got := s.apiUserFlag(userBob, "call_record_incoming_external_enabled"); !got {
		t.Fatal("the API does not show Bob's new flag")
	}
	b.expectNetworkError(`status of 400 .*/api/confd/1\.1/users/` + userBob + `$`)
	b.choose("#exten-"+userBob, "")
	b.do(chromedp.SendKeys(chromedp.CSS("#exten-"+userBob), "10x3"))
	b.click(fmt.Sprintf(`tr[data-user-uuid="%s"] button.primary`, userBob))
	b.waitFor("the API's message", fmt.Sprintf(`document.querySelector('#status-%s').textContent.startsWith('Input Error - extension')`, userBob))
	if u := s.user(userBob); u.Extension != "1003" {
		t.Fatalf("a refused extension changed Bob: %+v", u)
	}

	// Sign out: the session is gone.
	b.click("#sign-out")
	b.waitFor("the sign-in form", `document.querySelector('#signin-username') !== null`)
	b.expectNetworkError(`status of 401 .*/api/callrecd/1\.0/session$`)
	var status int
	b.eval(`fetch('/api/callrecd/1.0/session').then(r => r.status)`, &status)
	if status != 401 {
		t.Fatalf("GET session after signing out: %d, want 401", status)
	}
}

// A user's account sees only the user's own calls, plays them, and cannot
// reach another user's recording, not even by its URL.
func TestUserSeesOnlyTheirOwnCalls(t *testing.T) {
	s := newSite(t)
	b := newTab(t, s)
	b.open("/ui/", `document.querySelector('#signin-username') !== null`)
	b.signIn("olga", olgaPassword)
	mine := s.recordedIDs(func(c *seeded) bool { return c.spec.from == olga || c.spec.to == olga })
	b.waitRows("Olga's calls", mine)
	b.waitFor("the user's heading", `document.querySelector('h1').textContent === 'My call recordings'`)
	b.checkDashboard(s, 7, map[int]int{20: 2, 21: 2, 22: 2, 23: 1})
	var hidden bool
	b.eval(`document.querySelector('nav a[data-route=settings]').hidden && !document.querySelector('#selection-zip') &&
		!document.querySelector('#recordings-table button.danger') && !document.querySelector('#f-user') &&
		!document.querySelector('#recordings-table input[type=checkbox]')`, &hidden)
	if !hidden {
		t.Fatal("a user's page shows settings, zip, delete, the selection or the user filter")
	}
	b.checkA11y("a user's recordings")
	b.shoot("user-recordings")

	own := s.find(func(c *seeded) bool { return c.spec.from == supplier && s.day(c) == 20 })
	b.do(chromedp.DoubleClick(chromedp.CSS(fmt.Sprintf(`tr[data-cdr-id="%d"] td[data-col=to]`, own.id))))
	b.waitPlaying(own)

	other := s.find(func(c *seeded) bool { return c.spec.from == ana && c.spec.to == bank && s.day(c) == 23 })
	if slices.Contains(mine, other.id) {
		t.Fatal("test data: Ana's call is Olga's")
	}
	b.expectNetworkError(`status of 404 .*/recordings/` + other.recording + `/`)
	for _, path := range []string{
		fmt.Sprintf("/api/call-logd/1.0/users/me/cdr/%d/recordings/%s/media", other.id, other.recording),
		fmt.Sprintf("/api/callrecd/1.0/users/me/cdr/%d/recordings/%s/playable", other.id, other.recording),
		fmt.Sprintf("/api/callrecd/1.0/users/me/cdr/%d/recordings/%s/waveform", other.id, other.recording),
	} {
		var status int
		b.eval(fmt.Sprintf(`fetch(%q).then(r => r.status)`, path), &status)
		if status != 404 {
			t.Errorf("Olga's session GET %s: %d, want 404", path, status)
		}
	}
	b.click("#sign-out")
	b.waitFor("the sign-in form", `document.querySelector('#signin-username') !== null`)
}

// An API token signs in too; a system account picks the tenant it acts on.
func TestSystemTokenSignsInAndPicksATenant(t *testing.T) {
	s := newSite(t)
	b := newTab(t, s)
	b.open("/ui/", `document.querySelector('#signin-token') !== null`)
	b.do(chromedp.SendKeys(chromedp.CSS("#signin-token"), s.systemToken))
	b.click("#signin-token-submit")
	b.waitFor("the tenant picker", `!document.querySelector('#tenant-pick').hidden &&
		document.querySelector('#tenant-select').value === '`+tenantAcme+`'`)
	b.waitRows("the tenant's calls", s.apiIDs("recorded=true&limit=25"))
	c := s.find(func(c *seeded) bool { return c.spec.from == ana && s.day(c) == 21 && c.spec.to == bank })
	b.do(chromedp.DoubleClick(chromedp.CSS(fmt.Sprintf(`tr[data-cdr-id="%d"] td[data-col=start]`, c.id))))
	b.waitPlaying(c)
	b.checkA11y("system account's recordings")
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *site) recordingRow(c *seeded) store.Recording {
	s.t.Helper()
	r, err := s.sys.Store.GetRecording(context.Background(), tenantAcme, c.recording)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *site) recordingPath(c *seeded) string {
	s.t.Helper()
	r := s.recordingRow(c)
	dir, err := media.MonitorDir(tenantAcme)
	if err != nil {
		s.t.Fatal(err)
	}
	return filepath.Join(s.sys.Root, dir, r.Filename)
}

// checkZip reads the downloaded export: each call's recording as
// <cdr_id>/<file name>, with the bytes of the file, and the manifests.
func (s *site) checkZip(path string, calls []*seeded) {
	s.t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		s.t.Fatalf("the downloaded export is not a zip: %v", err)
	}
	defer zr.Close()
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		entries[f.Name] = f
	}
	want := []string{"manifest.csv", "manifest.json"}
	for _, c := range calls {
		want = append(want, fmt.Sprintf("%d/%s", c.id, s.recordingRow(c).Filename))
	}
	for _, name := range want {
		if entries[name] == nil {
			s.t.Errorf("zip lacks %s; it has %v", name, mapsKeys(entries))
		}
	}
	if len(entries) != len(want) {
		s.t.Errorf("zip has %d entries %v, want %v", len(entries), mapsKeys(entries), want)
	}
	for _, c := range calls {
		f := entries[fmt.Sprintf("%d/%s", c.id, s.recordingRow(c).Filename)]
		if f == nil {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			s.t.Fatal(err)
		}
		h := sha256.New()
		if _, err := h.Write(readAll(s.t, rc)); err != nil {
			s.t.Fatal(err)
		}
		rc.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != s.recordingRow(c).SHA256 {
			s.t.Errorf("zip entry of call %d: sha256 %s, want the recording's %s", c.id, got, s.recordingRow(c).SHA256)
		}
	}
}

func mapsKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// fileHead is the first n bytes of a file.
func fileHead(t *testing.T, path string, n int) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}
