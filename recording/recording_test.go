package recording

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const recID = "5ea37d0b-0823-4d2b-a18c-b9082e551b50"

func TestNameRoundTrip(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	for _, tc := range []struct {
		name string
		n    Name
		want string
	}{
		{"wazo example", Name{time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC), 2060, recID, WAV},
			"2021-05-14T17_47_16UTC-2060-" + recID + ".wav"},
		{"local zone is written in UTC", Name{time.Date(2021, 5, 14, 19, 47, 16, 0, cest), 2060, recID, WAV},
			"2021-05-14T17_47_16UTC-2060-" + recID + ".wav"},
		{"sub-second start is truncated", Name{time.Date(2021, 5, 14, 17, 47, 16, 999999999, time.UTC), 1, recID, MP3},
			"2021-05-14T17_47_16UTC-1-" + recID + ".mp3"},
		{"call id 0", Name{time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), 0, recID, AMR},
			"1999-12-31T23_59_59UTC-0-" + recID + ".amr"},
		{"largest call id", Name{time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), math.MaxInt64, recID, WAV},
			"2038-01-19T03_14_08UTC-9223372036854775807-" + recID + ".wav"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.n.FileName()
			if err != nil || got != tc.want {
				t.Fatalf("FileName() = %q, %v; want %q", got, err, tc.want)
			}
			if fast := Filename(tc.n.Start, tc.n.CallID, tc.n.RecordingUUID, tc.n.Format); fast != got {
				t.Fatalf("Filename() = %q, FileName() = %q", fast, got)
			}
			back, err := ParseName(got)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.n
			want.Start = tc.n.Start.UTC().Truncate(time.Second)
			if back != want {
				t.Fatalf("ParseName(%q) = %+v; want %+v", got, back, want)
			}
		})
	}
}

// Filename (the engine's unchecked form) and FileName agree on every valid
// name, whatever the time zone and sub-second part.
func TestFilenameMatchesFileName(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("m5", -5*3600), time.FixedZone("p1330", 13*3600+30*60)}
	start := time.Date(2020, 2, 29, 23, 59, 58, 123456789, time.UTC)
	for i := 0; i < 500; i++ {
		at := start.Add(time.Duration(i) * 7919 * time.Millisecond).In(zones[i%len(zones)])
		f := Formats()[i%len(Formats())]
		id := int64(i) * 104729
		n := Name{Start: at, CallID: id, RecordingUUID: recID, Format: f}
		want, err := n.FileName()
		if err != nil {
			t.Fatal(err)
		}
		if got := Filename(at, id, recID, f); got != want {
			t.Fatalf("Filename(%v, %d, %s) = %q; FileName = %q", at, id, f, got, want)
		}
	}
	if got, want := Filename(start, 7, recID, ""), Filename(start, 7, recID, WAV); got != want {
		t.Fatalf("empty format: %q, want %q", got, want)
	}
}

func TestFileNameRejects(t *testing.T) {
	at := time.Unix(1621014436, 0)
	for _, tc := range []struct {
		name string
		n    Name
	}{
		{"negative call id", Name{at, -5, recID, WAV}},
		{"recording not uuid", Name{at, 1, "x", WAV}},
		{"upper-case uuid", Name{at, 1, strings.ToUpper(recID), WAV}},
		{"uuid with slash", Name{at, 1, "5ea37d0b/0823-4d2b-a18c-b9082e551b50", WAV}},
		{"unknown format", Name{at, 1, recID, "ogg"}},
		{"empty format", Name{at, 1, recID, ""}},
		{"format with slash", Name{at, 1, recID, "wav/../x"}},
		{"zero start", Name{time.Time{}, 1, recID, WAV}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.n.FileName(); !errors.Is(err, ErrBadName) {
				t.Fatalf("FileName() = %q, %v; want ErrBadName", got, err)
			}
		})
	}
}

func TestParseNameStrict(t *testing.T) {
	good := "2021-05-14T17_47_16UTC-2060-" + recID + ".wav"
	if _, err := ParseName(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"2021-05-14T17_47_16UTC-2060-" + recID, // no extension
		"2021-05-14T17_47_16UTC-2060-" + recID + ".WAV",                 // extension case
		"2021-05-14T17_47_16UTC-2060-" + recID + ".ogg",                 // unknown format
		"2021-05-14T17:47:16UTC-2060-" + recID + ".wav",                 // colons
		"2021-05-14T17_47_16Z-2060-" + recID + ".wav",                   // zone spelling
		"2021-13-14T17_47_16UTC-2060-" + recID + ".wav",                 // month 13
		"2021-05-14T17_47_16UTC-02060-" + recID + ".wav",                // leading zero
		"2021-05-14T17_47_16UTC--2060-" + recID + ".wav",                // negative
		"2021-05-14T17_47_16UTC-+2060-" + recID + ".wav",                // sign
		"2021-05-14T17_47_16UTC--" + recID + ".wav",                     // empty call id
		"2021-05-14T17_47_16UTC-99999999999999999999-" + recID + ".wav", // overflow
		"2021-05-14T17_47_16UTC-2060-5EA37D0B-0823-4D2B-A18C-B9082E551B50.wav",
		"2021-05-14T17_47_16UTC-2060-" + recID + ".wav.tmp",
		"../2021-05-14T17_47_16UTC-2060-" + recID + ".wav",
		"2021-05-14T17_47_16UTC-20/0-" + recID + ".wav",
		"2021-05-14T17_47_16UTC-2060-" + recID + ".wav\x00",
		".callrecd-tmp-" + good, // media's temp files
		"x" + good,
		"2021-05-14T17_47_16UTC-2060-" + recID + "x.wav",
	} {
		if n, err := ParseName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) = %+v, %v; want ErrBadName", bad, n, err)
		}
	}
}

func TestValidateUUID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{recID, true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{strings.ToUpper(recID), false},
		{"5ea37d0b08234d2ba18cb9082e551b50", false},
		{"5ea37d0b-0823-4d2b-a18c-b9082e551b5", false},
		{"5ea37d0b-0823-4d2b-a18c-b9082e551b500", false},
		{"5ea37d0b_0823-4d2b-a18c-b9082e551b50", false},
		{"5ea37d0g-0823-4d2b-a18c-b9082e551b50", false},
		{"../../etc/passwd0000000000000000000", false},
	} {
		if err := ValidateUUID(tc.in); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadName)) {
			t.Errorf("ValidateUUID(%q) = %v", tc.in, err)
		}
	}
}

func TestStatePredicates(t *testing.T) {
	for _, tc := range []struct {
		s            State
		live, active bool
	}{
		{StatePending, true, false},
		{StateRecording, true, true},
		{StatePaused, true, true},
		{StateStopped, false, false},
		{StateFailed, false, false},
		{StateMissing, false, false},
		{StateCorrupt, false, false},
		{"", false, false},
		{"deleted", false, false},
	} {
		if tc.s.Live() != tc.live || tc.s.Active() != tc.active || tc.s.Valid() != slices.Contains(States(), tc.s) {
			t.Errorf("%q: Live %v Active %v Valid %v", tc.s, tc.s.Live(), tc.s.Active(), tc.s.Valid())
		}
	}
}

func TestValid(t *testing.T) {
	for _, s := range States() {
		if !s.Valid() {
			t.Errorf("state %q not valid", s)
		}
	}
	for _, b := range StartedBys() {
		if !b.Valid() {
			t.Errorf("started_by %q not valid", b)
		}
	}
	for _, r := range StopReasons() {
		if !r.Valid() {
			t.Errorf("stop_reason %q not valid", r)
		}
	}
	for _, f := range Formats() {
		if !f.Valid() || f.ContentType() == "" {
			t.Errorf("format %q: valid %v, content type %q", f, f.Valid(), f.ContentType())
		}
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	for _, s := range []string{"", "WAV", "ogg", ".wav", "wav "} {
		if f, err := ParseFormat(s); err == nil {
			t.Errorf("ParseFormat(%q) = %q", s, f)
		}
	}
	if State("").Valid() || StartedBy("").Valid() || StopReason("").Valid() || Feature("").Valid() || Format("").Valid() {
		t.Error("an empty value is valid")
	}
}

func TestFeatures(t *testing.T) {
	want := []struct {
		f    Feature
		name string
		code string
	}{
		{FeatureCallRecord, "callrecord", "*26"},
		{FeatureOnlineRecord, "onlinerec", "*3"},
		{FeaturePause, "pauserecord", "*48"},
		{FeatureResume, "resumerecord", "*49"},
	}
	got := Features()
	if len(got) != len(want) {
		t.Fatalf("Features() = %v", got)
	}
	codes := map[string]bool{}
	for i, w := range want {
		if got[i] != w.f || string(w.f) != w.name || DefaultCode(w.f) != w.code || !w.f.Valid() {
			t.Errorf("feature %d: %q code %q; want %q %q", i, got[i], DefaultCode(got[i]), w.name, w.code)
		}
		codes[DefaultCode(w.f)] = true
	}
	if len(codes) != len(want) {
		t.Error("two features share a default code")
	}
	if DefaultCode("onlinerecord") != "" || Feature("onlinerecord").Valid() {
		t.Error(`"onlinerecord" (not a Wazo feature name) is accepted`)
	}
}

// schemaTables reads the CREATE TABLE statements of store's migrations; a
// later migration that recreates a table replaces the earlier definition.
func schemaTables(t *testing.T) (tables map[string]string, sql string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "store", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	slices.Sort(files)
	create := regexp.MustCompile(`(?s)CREATE TABLE (\w+) \((.*?)\n\)`)
	tables = map[string]string{}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			tables[m[1]] = m[2]
		}
	}
	return tables, all.String()
}

// sqlList parses 'a', 'b', 'c'.
func sqlList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(v), "'"))
	}
	slices.Sort(out)
	return out
}

func sorted[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

// Every value a CHECK constraint accepts is defined here, and every value
// defined here is accepted.
func TestSchemaAgrees(t *testing.T) {
	tables, sql := schemaTables(t)
	for _, tc := range []struct {
		table, column string
		want          []string
	}{
		{"recordings", "state", sorted(States())},
		{"recordings", "started_by", sorted(StartedBys())},
		{"recordings", "stop_reason", sorted(StopReasons())},
		{"recordings", "format", sorted(Formats())},
		{"tenants", "format", sorted(Formats())},
		{"feature_extensions", "feature", sorted(Features())},
	} {
		t.Run(tc.table+"."+tc.column, func(t *testing.T) {
			body, ok := tables[tc.table]
			if !ok {
				t.Fatalf("no table %s in the migrations", tc.table)
			}
			c := regexp.QuoteMeta(tc.column)
			m := regexp.MustCompile(`CHECK \((?:` + c + ` IS NULL OR )?` + c + ` IN \(([^)]*)\)\)`).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no CHECK (%s IN (...)) in table %s", tc.column, tc.table)
			}
			if got := sqlList(m[1]); !slices.Equal(got, tc.want) {
				t.Fatalf("schema accepts %v; package defines %v", got, tc.want)
			}
		})
	}
	// The partial index of live recordings is State.Live.
	m := regexp.MustCompile(`CREATE INDEX recordings_live ON recordings \(state\) WHERE state IN \(([^)]*)\)`).FindStringSubmatch(sql)
	if m == nil {
		t.Fatal("no recordings_live index")
	}
	var live []State
	for _, s := range States() {
		if s.Live() {
			live = append(live, s)
		}
	}
	if got := sqlList(m[1]); !slices.Equal(got, sorted(live)) {
		t.Fatalf("recordings_live covers %v; Live() is %v", got, sorted(live))
	}
}
