//go:build browser

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/chromedp/chromedp"
)

// ---- the page ----

func (b *tab) location() string {
	var href string
	b.eval(`location.href`, &href)
	return href
}

func (b *tab) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

// signIn types the credentials into the password form and submits it.
func (b *tab) signIn(username, password string) {
	b.t.Helper()
	b.waitFor("the sign-in form", `document.querySelector('#signin-username') !== null`)
	b.choose("#signin-username", "")
	b.choose("#signin-password", "")
	b.do(chromedp.SendKeys(chromedp.CSS("#signin-username"), username), chromedp.SendKeys(chromedp.CSS("#signin-password"), password))
	b.click("#signin-submit")
}

// choose sets a select's or an input's value as a person picks it: the
// control changes, then fires change.
func (b *tab) choose(sel, value string) {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.focus(); el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
		return el.value === %q; })()`, sel, value, value), &ok)
	if !ok {
		b.t.Fatalf("%s has no value %q", sel, value)
	}
}

// waitRows waits until the table shows exactly these calls, in this order.
func (b *tab) waitRows(what string, ids []int64) {
	b.t.Helper()
	want, _ := json.Marshal(ids)
	b.waitFor(what+" "+string(want), fmt.Sprintf(`document.querySelector('[data-page] [aria-busy]') === null &&
		JSON.stringify([...document.querySelectorAll('#recordings-table tbody tr[data-cdr-id]')].map(r => +r.dataset.cdrId)) === %q`,
		string(want)))
}

// waitPlaying waits until the player has the call's recording loaded from
// the playable route, ready to play (canplay: HAVE_FUTURE_DATA), and its
// duration is the file's within 0.1 s.
func (b *tab) waitPlaying(c *seeded) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("call %d's recording in the player (%.2f s)", c.id, c.seconds), fmt.Sprintf(`(() => {
		const p = document.querySelector('[data-page] > .player');
		const a = p && p.querySelector('audio');
		return !p.hidden && p.dataset.cdrId === '%d' && a.currentSrc.includes('/recordings/%s/playable') &&
			a.readyState >= 3 && Math.abs(a.duration - %f) < 0.1;
	})()`, c.id, c.recording, c.seconds))
}

// seekOnWaveform clicks the waveform at frac of its width and waits until
// the audio's position is there.
func (b *tab) seekOnWaveform(sel string, frac, duration float64) {
	b.t.Helper()
	var r struct{ X, Y, W, H float64 }
	b.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
		return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`, sel), &r)
	if r.W < 100 {
		b.t.Fatalf("the waveform is %v px wide", r.W)
	}
	b.do(chromedp.MouseClickXY(r.X+frac*r.W, r.Y+r.H/2))
	target := frac * duration
	b.waitFor(fmt.Sprintf("the position at %.2f s", target), fmt.Sprintf(`(() => {
		const a = document.querySelector('.player audio');
		return !a.seeking && a.currentTime >= %f && a.currentTime < %f; })()`, target-0.15, target+0.6))
}

// checkDashboard waits for the dashboard strip: the recordings of the
// last 30 days (in all, and on each seeded day), the storage against its
// floor, and the PBX link (down: nothing listens where ARI should be).
func (b *tab) checkDashboard(s *site, total int, perDay map[int]int) {
	b.t.Helper()
	b.waitFor("the dashboard's 30 days", fmt.Sprintf(`document.querySelector('#dash-days').dataset.total === '%d' &&
		document.querySelectorAll('#dash-days .bar').length === 30`, total))
	for day, n := range perDay {
		b.waitFor(fmt.Sprintf("%d recordings on day %d", n, day),
			fmt.Sprintf(`document.querySelector('#dash-days .bar[data-day="%s"]')?.dataset.count === '%d'`, s.date(day), n))
	}
	b.waitFor("the storage", `document.querySelector('#dash-storage').value > 0 &&
		document.querySelector('#dash-storage-note').textContent.includes('new recordings stop below 1.0 MiB')`)
	b.waitFor("the PBX link", `document.querySelector('#dash-pbx').dataset.linked === 'false' &&
		document.querySelector('#dash-pbx').textContent.startsWith('Not linked')`)
}

// checkControls checks every control shown in the page's main part: a
// field or a checkbox has a label (its <label>, or aria-label), a button
// or a link has a name, and each one is in the tab order (reachable with
// the keyboard).
func (b *tab) checkControls(what string) {
	b.t.Helper()
	var bad []string
	b.eval(`(() => {
		const out = [];
		for (const el of document.querySelectorAll('main input, main select, main textarea, main button, main a[href]')) {
			if (el.closest('[hidden]') || el.type === 'hidden') continue;
			const tag = el.outerHTML.slice(0, 100);
			const labelled = el.matches('button, a')
				? el.textContent.trim() !== '' || !!el.getAttribute('aria-label')
				: [...(el.labels || [])].some((l) => l.textContent.trim() !== '') || !!el.getAttribute('aria-label');
			if (!labelled) out.push(tag + ': no label');
			if (el.tabIndex < 0) out.push(tag + ': not in the tab order');
		}
		return out;
	})()`, &bad)
	for _, p := range bad {
		b.t.Errorf("%s: %s", what, p)
	}
}

// ---- the site, as the test knows it and as the API answers ----

func (s *site) ordered(keep func(*seeded) bool) []int64 {
	var cs []*seeded
	for _, c := range s.calls {
		if keep(c) {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *seeded) int { return b.spec.at.Compare(a.spec.at) }) // the page's default: newest first
	out := []int64{}
	for _, c := range cs {
		out = append(out, c.id)
	}
	return out
}

// recordedIDs are the recorded calls keep accepts (all when nil), newest first.
func (s *site) recordedIDs(keep func(*seeded) bool) []int64 {
	return s.ordered(func(c *seeded) bool { return c.recording != "" && (keep == nil || keep(c)) })
}

// day is the seeded day number (20 to 23) of a call.
func (s *site) day(c *seeded) int {
	return 20 + int(c.spec.at.Sub(s.firstDay)/(24*time.Hour))
}

// date is a seeded day as a date input's value.
func (s *site) date(day int) string {
	return s.firstDay.AddDate(0, 0, day-20).Format("2006-01-02")
}

func (s *site) idsWhere(keep func(*seeded) bool) []int64 { return s.ordered(keep) }

func (s *site) find(keep func(*seeded) bool) *seeded {
	s.t.Helper()
	var found *seeded
	for _, c := range s.calls {
		if keep(c) {
			if found != nil {
				s.t.Fatalf("test data: calls %d and %d both match", found.id, c.id)
			}
			found = c
		}
	}
	if found == nil {
		s.t.Fatal("test data: no call matches")
	}
	return found
}

// api GETs a path with the admin token and decodes the JSON answer.
func (s *site) api(path string, out any) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", s.adminToken)
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body := readAll(s.t, res.Body)
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
}

// apiIDs are the CDR ids the API's /cdr answers for the query, in order.
func (s *site) apiIDs(query string) []int64 {
	s.t.Helper()
	var page struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	s.api("/api/call-logd/1.0/cdr?"+query, &page)
	out := []int64{}
	for _, it := range page.Items {
		out = append(out, it.ID)
	}
	return out
}

// checkDurationsOrdered checks the seeded talk times of ids are in order
// (whole seconds, as the CDR's duration).
func (s *site) checkDurationsOrdered(ids []int64, desc bool) {
	s.t.Helper()
	for i := 1; i < len(ids); i++ {
		a, b := int(s.calls[ids[i-1]].spec.talk), int(s.calls[ids[i]].spec.talk)
		if (desc && a < b) || (!desc && a > b) {
			s.t.Fatalf("calls %v are not by duration (desc %v): %d s before %d s", ids, desc, a, b)
		}
	}
}

func (s *site) user(id string) store.User {
	s.t.Helper()
	u, err := s.sys.Store.GetUser(context.Background(), tenantAcme, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

func (s *site) apiUserFlag(id, flag string) bool {
	s.t.Helper()
	var u map[string]any
	s.api("/api/confd/1.1/users/"+id, &u)
	v, _ := u[flag].(bool)
	return v
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
