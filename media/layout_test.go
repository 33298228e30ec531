package media

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

const (
	tenant = "2c8f4a1e-7b39-4d0c-9e5a-1f6b3d2c4e8a"
	recID  = "5ea37d0b-0823-4d2b-a18c-b9082e551b50"
)

func TestBuildPathWazoName(t *testing.T) {
	start := time.Date(2021, 5, 14, 19, 47, 16, 900, time.FixedZone("CEST", 2*3600))
	got, err := BuildPath("/var/lib/callrecd", tenant, start, 2060, recID, recording.WAV)
	if err != nil {
		t.Fatal(err)
	}
	want := "/var/lib/callrecd/tenants/" + tenant + "/monitor/2021-05-14T17_47_16UTC-2060-" + recID + ".wav"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	n, err := recording.ParseName(filepath.Base(got))
	if err != nil {
		t.Fatal(err)
	}
	if !n.Start.Equal(start.Truncate(time.Second)) || n.CallID != 2060 || n.RecordingUUID != recID || n.Format != recording.WAV {
		t.Fatalf("round trip: %+v", n)
	}
}

func TestBuildPathRejects(t *testing.T) {
	start := time.Unix(1621014436, 0)
	for _, tc := range []struct {
		name, root, tenant, rec string
		call                    int64
		f                       recording.Format
	}{
		{"relative root", "srv/rec", tenant, recID, 1, recording.WAV},
		{"tenant traversal", "/srv", "../../etc/passwd0000000000000000000", recID, 1, recording.WAV},
		{"tenant upper case", "/srv", "2C8F4A1E-7B39-4D0C-9E5A-1F6B3D2C4E8A", recID, 1, recording.WAV},
		{"tenant with slash", "/srv", "2c8f4a1e/7b39-4d0c-9e5a-1f6b3d2c4e8a", recID, 1, recording.WAV},
		{"recording not uuid", "/srv", tenant, "x", 1, recording.WAV},
		{"negative call id", "/srv", tenant, recID, -5, recording.WAV},
		{"unknown format", "/srv", tenant, recID, 1, "ogg"},
		{"format with slash", "/srv", tenant, recID, 1, "wav/../x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := BuildPath(tc.root, tc.tenant, start, tc.call, tc.rec, tc.f); !errors.Is(err, ErrBadName) {
				t.Fatalf("got %q, %v; want ErrBadName", p, err)
			}
		})
	}
}

// A temp file media writes into the layout never parses as a recording (the
// full strictness of the name rule is tested in the recording package).
func TestTempNamesAreNotRecordings(t *testing.T) {
	good := "2021-05-14T17_47_16UTC-2060-" + recID + ".wav"
	if _, err := recording.ParseName(good); err != nil || IsTempName(good) {
		t.Fatalf("%s: %v, temp %v", good, err, IsTempName(good))
	}
	if n, err := recording.ParseName(tempPrefix + good); !errors.Is(err, ErrBadName) || !IsTempName(tempPrefix+good) {
		t.Fatalf("ParseName(temp) = %+v, %v; want ErrBadName", n, err)
	}
}

func TestCheckElement(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"rec-1.wav", true}, {"..rec", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"/etc", false},
		{`..\x`, false}, {"a\x00b", false},
	} {
		if err := CheckElement(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckElement(%q) = %v", tc.in, err)
		}
	}
}

func TestResolveTraversal(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "tenants", tenant, "monitor"), outside} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	mustSymlink(t, outside, filepath.Join(root, "tenants", "evil"))                 // dir link out
	mustSymlink(t, "/etc/passwd", filepath.Join(root, "tenants", tenant, "pw.wav")) // file link out
	mustSymlink(t, "monitor", filepath.Join(root, "tenants", tenant, "alias"))      // link inside: fine
	mustSymlink(t, filepath.Join(outside, "nope"), filepath.Join(root, "dangling")) // unknown target
	rootLink := filepath.Join(base, "rootlink")
	mustSymlink(t, root, rootLink) // the root itself may be a symlink

	for _, tc := range []struct {
		name, root, rel string
		want            error // nil: accepted
	}{
		{"plain", root, "tenants/" + tenant + "/monitor/x.wav", nil},
		{"not yet existing", root, "tenants/" + tenant + "/new/dir/x.wav", nil},
		{"symlink inside root", root, "tenants/" + tenant + "/alias/x.wav", nil},
		{"root is a symlink", rootLink, "tenants/" + tenant + "/monitor/x.wav", nil},
		{"dotdot", root, "tenants/../../outside/x", ErrBadName},
		{"dotdot only", root, "..", ErrBadName},
		{"absolute", root, "/etc/passwd", ErrBadName},
		{"empty", root, "", ErrBadName},
		{"NUL", root, "tenants/x\x00.wav", ErrBadName},
		{"backslash", root, `tenants\..\..\x`, ErrBadName},
		{"dir symlink escapes", root, "tenants/evil/x.wav", ErrEscape},
		{"file symlink escapes", root, "tenants/" + tenant + "/pw.wav", ErrEscape},
		{"dangling symlink", root, "dangling/x", ErrEscape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Resolve(tc.root, tc.rel)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !within(root, p) {
					t.Fatalf("%s not under %s", p, root)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %q, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
