package media

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Space is the state of the filesystem holding the storage root.
type Space struct {
	Free  uint64 // bytes available to callrecd (not counting root's reserve)
	Total uint64 // bytes
}

// FreePercent is Free as a percentage of Total.
func (s Space) FreePercent() float64 {
	if s.Total == 0 {
		return 0
	}
	return 100 * float64(s.Free) / float64(s.Total)
}

// FreeSpace reports free and total bytes on the filesystem holding path.
func FreeSpace(path string) (Space, error) { return statfs(path) }

// ErrLowDisk means free space is below the configured floor.
var ErrLowDisk = errors.New("media: free disk space below the floor")

// Floor is the minimum free space below which no new recording starts.
// Either or both may be set; both must then be satisfied.
type Floor struct {
	Bytes   uint64
	Percent float64
}

// ParseFloor reads a floor such as "5%", "500MB", "2GiB" or "1048576".
// Units are powers of 1024 whether or not spelled with an "i", as df shows.
func ParseFloor(s string) (Floor, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return Floor{}, fmt.Errorf("media: bad free-space floor %q", s)
		}
		return Floor{Percent: v}, nil
	}
	u, mult := strings.ToUpper(s), uint64(1)
	for _, un := range units {
		if v, ok := strings.CutSuffix(u, un.suffix); ok {
			u, mult = v, un.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || v < 0 {
		return Floor{}, fmt.Errorf("media: bad free-space floor %q", s)
	}
	return Floor{Bytes: uint64(v * float64(mult))}, nil
}

// units: longest spelling first so "KB" is not read as "K" + junk.
var units = []struct {
	suffix string
	mult   uint64
}{
	{"KIB", 1 << 10}, {"KB", 1 << 10}, {"K", 1 << 10},
	{"MIB", 1 << 20}, {"MB", 1 << 20}, {"M", 1 << 20},
	{"GIB", 1 << 30}, {"GB", 1 << 30}, {"G", 1 << 30},
	{"TIB", 1 << 40}, {"TB", 1 << 40}, {"T", 1 << 40},
	{"B", 1},
}

// Guard decides whether a new recording may start, from the free space on the
// filesystem holding Root. Recordings already running are not its business.
type Guard struct {
	Root  string
	Floor Floor

	// Statfs defaults to FreeSpace; tests set it.
	Statfs func(path string) (Space, error)
}

// Check returns the current space and nil if a new recording may start, or
// an error wrapping ErrLowDisk (or the statfs failure) if not. The caller logs
// it and raises the alert metric; the API keeps serving.
func (g Guard) Check() (Space, error) {
	stat := g.Statfs
	if stat == nil {
		stat = FreeSpace
	}
	s, err := stat(g.Root)
	if err != nil {
		return s, fmt.Errorf("media: disk guard: %w", err)
	}
	if s.Free < g.Floor.Bytes || (g.Floor.Percent > 0 && s.FreePercent() < g.Floor.Percent) {
		return s, fmt.Errorf("%w: %d bytes (%.1f%%) free on %s, floor %d bytes / %.1f%%",
			ErrLowDisk, s.Free, s.FreePercent(), g.Root, g.Floor.Bytes, g.Floor.Percent)
	}
	return s, nil
}

// Allow reports whether a new recording may start. A failing statfs refuses:
// if we cannot see the disk we cannot promise the recording will be kept.
func (g Guard) Allow() bool {
	_, err := g.Check()
	return err == nil
}
