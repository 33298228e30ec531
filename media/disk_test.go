package media

import (
	"errors"
	"testing"
)

func TestFreeSpace(t *testing.T) {
	s, err := FreeSpace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Total == 0 || s.Free > s.Total {
		t.Fatalf("%+v", s)
	}
	if _, err := FreeSpace("/nonexistent/callrecd"); err == nil {
		t.Fatal("no error for a missing path")
	}
}

func TestGuard(t *testing.T) {
	const gib = 1 << 30
	disk := func(free, total uint64) func(string) (Space, error) {
		return func(string) (Space, error) { return Space{Free: free, Total: total}, nil }
	}
	for _, tc := range []struct {
		name  string
		floor Floor
		stat  func(string) (Space, error)
		allow bool
	}{
		{"no floor", Floor{}, disk(0, 100*gib), true},
		{"above bytes floor", Floor{Bytes: 5 * gib}, disk(6*gib, 100*gib), true},
		{"below bytes floor", Floor{Bytes: 5 * gib}, disk(4*gib, 100*gib), false},
		{"above percent floor", Floor{Percent: 5}, disk(6*gib, 100*gib), true},
		{"below percent floor", Floor{Percent: 5}, disk(4*gib, 100*gib), false},
		{"both set, percent fails", Floor{Bytes: gib, Percent: 10}, disk(5*gib, 100*gib), false},
		{"both set, bytes fails", Floor{Bytes: 8 * gib, Percent: 1}, disk(5*gib, 100*gib), false},
		{"statfs fails: refuse", Floor{Bytes: 1}, func(string) (Space, error) { return Space{}, errors.New("EIO") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := Guard{Root: "/srv/rec", Floor: tc.floor, Statfs: tc.stat}
			_, err := g.Check()
			if g.Allow() != tc.allow || (err == nil) != tc.allow {
				t.Fatalf("allow=%v err=%v", g.Allow(), err)
			}
			if !tc.allow && tc.name != "statfs fails: refuse" && !errors.Is(err, ErrLowDisk) {
				t.Fatalf("want ErrLowDisk, got %v", err)
			}
		})
	}
	// The real filesystem with a floor no disk can meet.
	if (Guard{Root: t.TempDir(), Floor: Floor{Percent: 100.1}}).Allow() {
		t.Fatal("impossible floor allowed")
	}
	if !(Guard{Root: t.TempDir(), Floor: Floor{Bytes: 1}}).Allow() {
		t.Fatal("1-byte floor refused")
	}
}

func TestParseFloor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Floor
		ok   bool
	}{
		{"5%", Floor{Percent: 5}, true},
		{" 2.5 % ", Floor{Percent: 2.5}, true},
		{"1048576", Floor{Bytes: 1 << 20}, true},
		{"500MB", Floor{Bytes: 500 << 20}, true},
		{"500M", Floor{Bytes: 500 << 20}, true},
		{"2GiB", Floor{Bytes: 2 << 30}, true},
		{"1.5g", Floor{Bytes: 3 << 29}, true},
		{"10 KB", Floor{Bytes: 10 << 10}, true},
		{"300B", Floor{Bytes: 300}, true},
		{"", Floor{}, false},
		{"101%", Floor{}, false},
		{"-1%", Floor{}, false},
		{"-5GB", Floor{}, false},
		{"lots", Floor{}, false},
		{"5XB", Floor{}, false},
	} {
		got, err := ParseFloor(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFloor(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
