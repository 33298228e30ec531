//go:build browser

package web_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/store"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const (
	groupSales   = "6d1f3f0c-8a4b-4b8e-9a61-3c2f1d9e7a10"
	queueSupport = "0b7e9c52-5f3d-4a8a-b1e4-7d6c2a9f4e21"
)

// seedGroups adds a ring group whose members may not toggle recording
// with *3 and a queue whose members may.
func (s *site) seedGroups() {
	s.t.Helper()
	for _, g := range []store.Group{
		{UUID: groupSales, TenantUUID: tenantAcme, Kind: store.KindGroup, Name: "sales", Label: "Sales", Members: []string{userOlga, userAna}},
		{UUID: queueSupport, TenantUUID: tenantAcme, Kind: store.KindQueue, Name: "support", Label: "Support", DTMFRecordToggle: true,
			Members: []string{userBob}},
	} {
		if _, err := s.sys.Store.CreateGroup(context.Background(), g); err != nil {
			s.t.Fatal(err)
		}
	}
}

type apiTenant struct {
	AudioRecordingEnabled    bool   `json:"audio_recording_enabled"`
	RecordExternalToExternal bool   `json:"record_external_to_external"`
	Format                   string `json:"format"`
	OnlineRecordMode         string `json:"online_record_mode"`
	Timezone                 string `json:"timezone"`
}

type apiRetention struct {
	CDRDays       *int `json:"cdr_days"`
	RecordingDays *int `json:"recording_days"`
	ExportDays    *int `json:"export_days"`
}

func (s *site) apiTenant() apiTenant {
	s.t.Helper()
	var t apiTenant
	s.api("/api/callrecd/1.0/tenants/"+tenantAcme, &t)
	return t
}

func (s *site) apiRetention() apiRetention {
	s.t.Helper()
	var r apiRetention
	s.api("/api/call-logd/1.0/retention", &r)
	return r
}

func (s *site) apiToggle(kind, id string) bool {
	s.t.Helper()
	var g struct {
		DTMFRecordToggle bool `json:"dtmf_record_toggle"`
	}
	s.api("/api/confd/1.1/"+kind+"s/"+id, &g)
	return g.DTMFRecordToggle
}

type apiFeature struct {
	ID      int64  `json:"id"`
	Feature string `json:"feature"`
	Exten   string `json:"exten"`
	Enabled bool   `json:"enabled"`
}

// apiFeatures are the tenant's feature codes, by feature.
func (s *site) apiFeatures() map[string]apiFeature {
	s.t.Helper()
	var list struct {
		Items []apiFeature `json:"items"`
	}
	s.api("/api/confd/1.1/extensions/features", &list)
	out := map[string]apiFeature{}
	for _, f := range list.Items {
		out[f.Feature] = f
	}
	return out
}

func days(p *int) string {
	if p == nil {
		return "forever"
	}
	return fmt.Sprint(*p)
}

// saved waits until a form's or a row's status line says it was saved.
func (b *tab) saved(what, sel string) {
	b.t.Helper()
	b.waitFor(what+" saved", fmt.Sprintf(`document.querySelector(%q).textContent.startsWith('Saved.') &&
		document.querySelector(%q).dataset.kind === 'ok'`, sel, sel))
}

// refused waits until the status line shows the API's message for a bad value.
func (b *tab) refused(what, sel, message string) {
	b.t.Helper()
	b.waitFor(what+": the API's message", fmt.Sprintf(`document.querySelector(%q).textContent.startsWith(%q) &&
		document.querySelector(%q).dataset.kind === 'error'`, sel, message, sel))
}

// flagged waits until the field the API named is marked invalid and has the focus.
func (b *tab) flagged(sel string) {
	b.t.Helper()
	b.waitFor(sel+" marked invalid, focused", fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-invalid') === 'true' &&
		document.activeElement === document.querySelector(%q)`, sel, sel))
}

// The rest of the Settings page, each part changed in the page and read
// back from the API: the tenant's options and retention (a bad timezone
// and a recording retention longer than the call history are refused with
// the API's message), a group's and a queue's *3 setting (one by the
// keyboard alone), and the feature codes with the *26 dialplan warning.
func TestAdminChangesTenantGroupsAndFeatureCodes(t *testing.T) {
	s := newSite(t)
	s.seedGroups()
	features := s.apiFeatures()
	b := newTab(t, s)
	b.open("/ui/settings", `document.querySelector('#signin-username') !== null`)
	b.signIn("admin", adminPassword)
	ready := `document.querySelector('#tenant-form')?.dataset.loaded === 'true' &&
		document.querySelector('#retention-form')?.dataset.loaded === 'true' &&
		document.querySelectorAll('#users-table tbody tr[data-user-uuid]').length === 3 &&
		document.querySelectorAll('#groups-table tbody tr[data-group-uuid]').length === 1 &&
		document.querySelectorAll('#queues-table tbody tr[data-group-uuid]').length === 1 &&
		document.querySelectorAll('#features-table tbody tr[data-feature-id]').length === 4`
	b.waitFor("every part of the settings", ready)

	// The form shows the tenant as the API has it, its formats from the API's enum.
	var doc struct {
		Components struct {
			Schemas struct {
				Tenant struct {
					Properties struct {
						Format struct {
							Enum []string `json:"enum"`
						} `json:"format"`
					} `json:"properties"`
				} `json:"Tenant"`
			} `json:"schemas"`
		} `json:"components"`
	}
	s.api("/api/openapi.json", &doc)
	var formats []string
	b.eval(`[...document.querySelectorAll('#tenant-format option')].map(o => o.value)`, &formats)
	if want := doc.Components.Schemas.Tenant.Properties.Format.Enum; len(want) < 3 || !slices.Equal(formats, want) {
		t.Fatalf("the format choices %v, want the API's enum %v", formats, want)
	}
	var shown apiTenant
	b.eval(`({audio_recording_enabled: document.querySelector('#tenant-audio').checked,
		record_external_to_external: document.querySelector('#tenant-ext2ext').checked,
		format: document.querySelector('#tenant-format').value, online_record_mode: document.querySelector('#tenant-mode').value,
		timezone: document.querySelector('#tenant-timezone').value})`, &shown)
	if api := s.apiTenant(); shown != api {
		t.Fatalf("the tenant form shows %+v, the API has %+v", shown, api)
	}
	b.checkControls("settings page")
	b.checkA11y("settings page, every part")
	b.shootAt("settings-tenant", "#tenant")
	b.shootAt("settings-groups", "#groups")

	// Tenant options.
	b.click("#tenant-audio")
	b.click("#tenant-ext2ext")
	b.choose("#tenant-format", "mp3")
	b.choose("#tenant-mode", "stop")
	b.choose("#tenant-timezone", "Europe/Paris")
	b.click("#tenant-save")
	b.saved("the tenant options", "#tenant-msg")
	want := apiTenant{AudioRecordingEnabled: false, RecordExternalToExternal: true, Format: "mp3",
		OnlineRecordMode: "stop", Timezone: "Europe/Paris"}
	if got := s.apiTenant(); got != want {
		t.Fatalf("the tenant after the page saved it: %+v, want %+v", got, want)
	}
	b.expectNetworkError(`status of 400 .*/api/callrecd/1\.0/tenants/` + tenantAcme + `$`)
	b.choose("#tenant-timezone", "Mars/Olympus_Mons")
	b.click("#tenant-save")
	b.refused("a bad timezone", "#tenant-msg", "Input Error - timezone: an IANA time zone name")
	b.flagged("#tenant-timezone")
	if got := s.apiTenant(); got != want {
		t.Fatalf("a refused timezone changed the tenant: %+v", got)
	}
	b.shootAt("settings-tenant-refused", "#tenant")
	b.choose("#tenant-timezone", "Europe/Paris")

	// Retention: days, forever, and a relation the API refuses.
	b.choose("#ret-cdr_days", "365")
	b.choose("#ret-recording_days", "90")
	b.choose("#ret-export_days", "")
	b.click("#retention-save")
	b.saved("the retention", "#retention-msg")
	if r := s.apiRetention(); days(r.CDRDays) != "365" || days(r.RecordingDays) != "90" || r.ExportDays != nil {
		t.Fatalf("the retention after the page saved it: cdr %s, recordings %s, exports %s",
			days(r.CDRDays), days(r.RecordingDays), days(r.ExportDays))
	}
	b.expectNetworkError(`status of 400 .*/api/call-logd/1\.0/retention$`)
	b.choose("#ret-recording_days", "400")
	b.click("#retention-save")
	b.refused("recordings kept longer than calls", "#retention-msg", "Input Error - recording_days: cannot exceed cdr_days")
	b.flagged("#ret-recording_days")
	if r := s.apiRetention(); days(r.RecordingDays) != "90" {
		t.Fatalf("a refused retention changed it: recordings %s", days(r.RecordingDays))
	}
	b.choose("#ret-cdr_days", "")
	b.choose("#ret-recording_days", "90")
	b.click("#retention-save")
	b.saved("the retention, calls forever", "#retention-msg")
	b.waitFor("no field marked invalid", `document.querySelector('#retention-form [aria-invalid]') === null`)
	if r := s.apiRetention(); r.CDRDays != nil || days(r.RecordingDays) != "90" || r.ExportDays != nil {
		t.Fatalf("the retention with calls kept forever: cdr %s, recordings %s, exports %s",
			days(r.CDRDays), days(r.RecordingDays), days(r.ExportDays))
	}

	// The group's *3 switch, by the keyboard alone: Space ticks it, Tab reaches Save, Enter saves.
	b.do(chromedp.Focus(chromedp.CSS("#dtmf-"+groupSales)), chromedp.KeyEvent(" "))
	b.waitFor("the group's box ticked", `document.querySelector('#dtmf-`+groupSales+`').checked`)
	b.do(chromedp.KeyEvent(kb.Tab))
	b.waitFor("Tab on Save", `document.activeElement === document.querySelector('tr[data-group-uuid="`+groupSales+`"] button.primary')`)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.saved("the group", "#group-status-"+groupSales)
	if !s.apiToggle("group", groupSales) {
		t.Fatal("the API does not show the group's new *3 switch")
	}
	b.click("#dtmf-" + queueSupport)
	b.click(`tr[data-group-uuid="` + queueSupport + `"] button.primary`)
	b.saved("the queue", "#queue-status-"+queueSupport)
	if s.apiToggle("queue", queueSupport) {
		t.Fatal("the API still shows the queue's *3 switch on")
	}

	// Feature codes: a new *48, *3 off, a new *26 (with its dialplan line), a bad code refused.
	var note string
	b.eval(`document.querySelector('#feature-dialplan-note').textContent`, &note)
	for _, w := range []string{"Changing the *26 code also needs a dialplan change on the PBX",
		"exten => <code>,1,Stasis(callrecd,feature,callrecord)"} {
		if !strings.Contains(note, w) {
			t.Fatalf("the feature codes' note %q lacks %q", note, w)
		}
	}
	pause, online, own, resume := features["pauserecord"], features["onlinerec"], features["callrecord"], features["resumerecord"]
	b.choose(fmt.Sprintf("#feature-exten-%d", pause.ID), "*58")
	b.click(fmt.Sprintf(`tr[data-feature-id="%d"] button.primary`, pause.ID))
	b.saved("the pause code", fmt.Sprintf("#feature-status-%d", pause.ID))
	b.click(fmt.Sprintf("#feature-enabled-%d", online.ID))
	b.click(fmt.Sprintf(`tr[data-feature-id="%d"] button.primary`, online.ID))
	b.saved("*3 off", fmt.Sprintf("#feature-status-%d", online.ID))
	b.choose(fmt.Sprintf("#feature-exten-%d", own.ID), "*27")
	b.click(fmt.Sprintf(`tr[data-feature-id="%d"] button.primary`, own.ID))
	b.saved("the new *26 code", fmt.Sprintf("#feature-status-%d", own.ID))
	b.waitFor("the dialplan line for the new code", fmt.Sprintf(`document.querySelector('#feature-status-%d').textContent.includes(
		"exten => *27,1,Stasis(callrecd,feature,callrecord)")`, own.ID))
	b.expectNetworkError(fmt.Sprintf(`status of 400 .*/api/confd/1\.1/extensions/features/%d$`, resume.ID))
	b.choose(fmt.Sprintf("#feature-exten-%d", resume.ID), "*4a")
	b.click(fmt.Sprintf(`tr[data-feature-id="%d"] button.primary`, resume.ID))
	b.refused("a bad code", fmt.Sprintf("#feature-status-%d", resume.ID), "Input Error - exten: digits, * and # only")
	got := s.apiFeatures()
	if got["pauserecord"].Exten != "*58" || got["onlinerec"].Enabled || got["callrecord"].Exten != "*27" ||
		got["resumerecord"].Exten != "*49" || !got["resumerecord"].Enabled || !got["pauserecord"].Enabled {
		t.Fatalf("the feature codes after the page changed them: %+v", got)
	}
	b.checkA11y("settings page with its messages")
	b.shootAt("settings-features", "#features")

	// A new visit shows what the API has now.
	b.open("/ui/settings", ready)
	var after struct {
		Format, Timezone, CDR, Rec, Code string
		Group, Queue, Online             bool
	}
	b.eval(fmt.Sprintf(`({Format: document.querySelector('#tenant-format').value,
		Timezone: document.querySelector('#tenant-timezone').value,
		CDR: document.querySelector('#ret-cdr_days').value, Rec: document.querySelector('#ret-recording_days').value,
		Code: document.querySelector('#feature-exten-%d').value,
		Group: document.querySelector('#dtmf-%s').checked, Queue: document.querySelector('#dtmf-%s').checked,
		Online: document.querySelector('#feature-enabled-%d').checked})`, own.ID, groupSales, queueSupport, online.ID), &after)
	if after.Format != "mp3" || after.Timezone != "Europe/Paris" || after.CDR != "" || after.Rec != "90" ||
		after.Code != "*27" || !after.Group || after.Queue || after.Online {
		t.Fatalf("the settings page after a reload: %+v", after)
	}
}
