//go:build browser

package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser; scripts/install-browser installs it.
const chromium = "/usr/bin/chromium"

// step bounds every browser step: a failure bound, never a pause.
const step = 15 * time.Second

// tab is one headless Chromium with one tab on the site, collecting what
// the page logs: any console error or warning, uncaught exception or failed
// request the test did not expect fails the test at its end.
type tab struct {
	t         *testing.T
	ctx       context.Context
	site      *site
	downloads string
	artifacts string

	mu       sync.Mutex
	problems []string
	expected []*regexp.Regexp // network errors the test provokes on purpose
	done     map[string]string
}

func newTab(t *testing.T, s *site) *tab {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing (%v): run scripts/install-browser (as root) to install Debian's chromium", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.DisableGPU, chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true)}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &tab{t: t, ctx: ctx, site: s, downloads: t.TempDir(), artifacts: artifactsDir(t), done: map[string]string{}}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and its tab
		t.Fatalf("starting %s: %v", chromium, err)
	}
	if err := chromedp.Listen(ctx, b.watch); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.ListenBrowser(ctx, b.watchBrowser); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		// Dates on the page are the browser's local time: make it UTC, as the seeded calls are.
		if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
			return err
		}
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: ptr(true)})
		return err
	}))
	t.Cleanup(b.checkConsole)
	return b
}

func ptr[T any](v T) *T { return &v }

// artifactsDir is $CALLRECD_ARTIFACTS (the Makefile's build/artifacts/web),
// else the test's own folder.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("CALLRECD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (b *tab) watch(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning ||
			ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError && e.Level != log.EntryLevelWarning {
			return
		}
		line := fmt.Sprintf("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL)
		if e.Source == log.EntrySourceNetwork {
			for _, re := range b.expected {
				if re.MatchString(line) {
					return
				}
			}
		}
		b.problems = append(b.problems, line)
	}
}

func (b *tab) watchBrowser(ev any) {
	if ev, ok := ev.(*browser.EventDownloadProgress); ok && ev.State == browser.DownloadProgressStateCompleted {
		b.mu.Lock()
		b.done[ev.GUID] = filepath.Join(b.downloads, ev.GUID)
		b.mu.Unlock()
	}
}

// expectNetworkError lets a failed request whose log line matches re pass
// (a wrong password's 401, an invalid value's 400).
func (b *tab) expectNetworkError(re string) {
	b.mu.Lock()
	b.expected = append(b.expected, regexp.MustCompile(re))
	b.mu.Unlock()
}

func (b *tab) checkConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
}

// do runs browser actions, each bounded by step.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, a := range actions {
		ctx, cancel := context.WithTimeout(b.ctx, step)
		err := chromedp.Do(ctx, a)
		cancel()
		if err != nil {
			b.t.Fatalf("browser step %d: %v", i+1, err)
		}
	}
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (b *tab) eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("evaluating %s: %v (%s)", expr, err, raw)
		}
	}
}

// waitFor waits until the expression is truthy, bounded by step, polling it
// over Runtime.evaluate (the page's CSP forbids the eval chromedp's own Poll
// uses). what names the condition in the failure.
func (b *tab) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	var last string
	for {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte]("!!("+expr+")", chromedp.EvalAwaitPromise))
		if err == nil && string(raw) == "true" {
			return
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("waiting for %s (%s): not true within %s %s\n%s", what, expr, step, last, b.pageText())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// pageText is the visible text of the page, for failure messages.
func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	if err != nil {
		return "(page text unavailable: " + err.Error() + ")"
	}
	return "page text:\n" + s
}

// waitDownload waits for the next download to complete and returns its file.
func (b *tab) waitDownload(before map[string]bool) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	for {
		b.mu.Lock()
		for guid, p := range b.done {
			if !before[guid] {
				b.mu.Unlock()
				return p
			}
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			b.t.Fatalf("no download completed within %s\n%s", step, b.pageText())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (b *tab) downloadsSoFar() map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]bool{}
	for g := range b.done {
		out[g] = true
	}
	return out
}

// open navigates to a path of the site and waits for the page to be ready.
func (b *tab) open(path, ready string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.site.url + path))
	b.waitFor("the page at "+path, ready)
}

// axeSHA256 is the sha256 of testdata/axe.min.js as extracted from
// axe-core-4.10.3.tgz (see testdata/README.md for its registry integrity).
const axeSHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"

var axeOnce struct {
	sync.Once
	src string
	err error
}

func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "axe.min.js"))
		if err != nil {
			axeOnce.err = err
			return
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != axeSHA256 {
			axeOnce.err = fmt.Errorf("testdata/axe.min.js has sha256 %s, want %s (axe-core 4.10.3)", got, axeSHA256)
			return
		}
		axeOnce.src = string(b)
	})
	if axeOnce.err != nil {
		t.Fatal(axeOnce.err)
	}
	return axeOnce.src
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkA11y runs axe-core on the page as it is and fails on any serious or
// critical violation.
func (b *tab) checkA11y(what string) {
	b.t.Helper()
	b.eval(`(() => { if (!window.axe) { `+axeSource(b.t)+` } return true; })()`, nil)
	var violations []axeViolation
	b.eval(`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`, &violations)
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
		}
		b.t.Errorf("%s: accessibility (axe %s, %s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(where, "\n  "))
	}
}

// shoot takes screenshots of the page at 1280×800 and 390×844, checks that
// nothing is wider than the narrow screen, and puts the viewport back.
func (b *tab) shoot(name string) {
	b.t.Helper()
	b.shootAt(name, "")
}

// shootAt is shoot with the element sel scrolled to the top of the screen
// (as far as the page goes) at each size; "" leaves the page where it is.
func (b *tab) shootAt(name, sel string) {
	b.t.Helper()
	for _, vp := range []struct {
		w, h   int64
		suffix string
	}{{1280, 800, "1280x800"}, {390, 844, "390x844"}} {
		b.do(chromedp.EmulateViewport(vp.w, vp.h))
		b.waitFor("layout at "+vp.suffix, fmt.Sprintf("innerWidth === %d", vp.w))
		if sel != "" {
			b.eval(fmt.Sprintf(`(() => { document.querySelector(%q).scrollIntoView({block: 'start'}); return true; })()`, sel), nil)
			b.waitFor(sel+" at the top of the screen at "+vp.suffix, fmt.Sprintf(`(() => {
				const top = document.querySelector(%q).getBoundingClientRect().top;
				return Math.abs(top) < 2 || scrollY + innerHeight >= document.documentElement.scrollHeight - 1; })()`, sel))
		}
		var overflow int
		b.eval(`document.documentElement.scrollWidth - innerWidth`, &overflow)
		if overflow > 0 {
			var wide []string
			b.eval(wideElements, &wide)
			b.t.Errorf("%s at %s: the page is %d px wider than the screen: %v", name, vp.suffix, overflow, wide)
		}
		ctx, cancel := context.WithTimeout(b.ctx, step)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			b.t.Fatal(err)
		}
		file := filepath.Join(b.artifacts, name+"-"+vp.suffix+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("screenshot %s", file)
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	b.waitFor("layout at 1280x800", "innerWidth === 1280")
}

// wideElements names the elements that stick out of the screen on the
// right, outside any scrolling box.
const wideElements = `(() => {
	const out = [];
	const clipped = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
		const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'hidden' || o === 'scroll') return true; } return false; };
	for (const el of document.querySelectorAll('body *')) {
		const r = el.getBoundingClientRect();
		if (r.width && r.right > innerWidth + 1 && !clipped(el)) {
			out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' right=' + Math.round(r.right));
		}
		if (out.length >= 5) break;
	}
	return out;
})()`
