// Package doctor checks that callrecd's set-up can work before anybody
// relies on it: the PBX link, what the PBX must be told, the folders, the
// database, the tools. Each check says ✓ or ✗ (or ! for a warning) and, when
// it fails, the exact fix. `callrecd doctor` prints them; `serve` runs them
// at start and logs what fails.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// Status of one check.
type Status int

// Statuses: a warning does not stop callrecd; a failure means a feature
// (or everything) will not work.
const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) mark() string {
	switch s {
	case OK:
		return "✓"
	case Warn:
		return "!"
	}
	return "✗"
}

// Result is one check's outcome.
type Result struct {
	Check  string
	Status Status
	Detail string // what was found
	Fix    string // what to do (failures and warnings)
}

// Report is every check's result, in the order run.
type Report []Result

// Failed reports whether callrecd cannot run as configured.
func (r Report) Failed() bool {
	for _, x := range r {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// Print writes one line per check (and its fix, indented, when needed).
func (r Report) Print(w io.Writer) {
	for _, x := range r {
		fmt.Fprintf(w, "%s %s: %s\n", x.Status.mark(), x.Check, x.Detail)
		if x.Status != OK && x.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", x.Fix)
		}
	}
}

// Log writes what is not fine, one record per check: serve runs the checks
// at start and after each reconnect, so an administrator sees a wrong set-up
// in the log.
func (r Report) Log(log *slog.Logger) {
	for _, x := range r {
		switch x.Status {
		case Fail:
			log.Error("set-up check failed", "check", x.Check, "found", x.Detail, "fix", x.Fix)
		case Warn:
			log.Warn("set-up check", "check", x.Check, "found", x.Detail, "fix", x.Fix)
		}
	}
}

// Run runs every check for cfg. timeout bounds each network check.
func Run(ctx context.Context, cfg config.Config, timeout time.Duration) Report {
	return run(ctx, cfg, timeout, false)
}

// AfterReconnect runs the checks again once callrecd's PBX link came back:
// the PBX may have been reconfigured or replaced meanwhile. callrecd holds
// the ARI application then, which is no failure.
func AfterReconnect(ctx context.Context, cfg config.Config, timeout time.Duration) Report {
	return run(ctx, cfg, timeout, true)
}

func run(ctx context.Context, cfg config.Config, timeout time.Duration, held bool) Report {
	var r Report
	add := func(res ...Result) { r = append(r, res...) }
	switch cfg.PBX.Type {
	case "asterisk":
		add(checkAsterisk(ctx, cfg, timeout, held)...)
		if cfg.PBX.Asterisk.RecordingSpool != config.SpoolOverARI {
			res := checkFolder("recording spool (pbx.asterisk.recording_spool)", cfg.PBX.Asterisk.RecordingSpool,
				"point pbx.asterisk.recording_spool at Asterisk's astspooldir/recording as this machine sees it, and let callrecd's user read and delete the asterisk user's files there (same host or a shared mount), or set it to `ari` to fetch every file over ARI")
			if res.Status == Fail {
				// Not fatal: the collector fetches the files over ARI then.
				res.Status, res.Detail = Warn, res.Detail+"; callrecd fetches the recordings over ARI instead"
			}
			add(res)
		}
	case "freeswitch":
		add(checkFreeSWITCH(ctx, cfg, timeout)...)
		add(checkFolder("recording folder (pbx.freeswitch.recording_dir)", cfg.PBX.FreeSWITCH.RecordingDir,
			"point pbx.freeswitch.recording_dir at the folder uuid_record writes to, as this machine sees it, with read and delete rights for callrecd's user"))
	}
	add(checkStorage(cfg))
	add(checkDatabase(ctx, cfg))
	add(checkTranscoder(ctx, cfg))
	if cfg.SMTP.Host != "" {
		add(checkSMTP(ctx, cfg, timeout))
	}
	return r
}

// checkFolder: the PBX's recording folder exists and callrecd may create
// and delete files in it (a dot-file, which no collector takes for a
// recording).
func checkFolder(name, dir, fix string) Result {
	res := Result{Check: name, Fix: fix}
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		res.Status, res.Detail = Fail, err.Error()
		return res
	case !fi.IsDir():
		res.Status, res.Detail = Fail, dir+" is not a folder"
		return res
	}
	probe := filepath.Join(dir, ".callrecd-doctor-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		res.Status, res.Detail = Fail, "cannot create a file there (callrecd must delete the PBX's files): "+err.Error()
		return res
	}
	if err := os.Remove(probe); err != nil {
		res.Status, res.Detail = Fail, "cannot delete a file there: "+err.Error()
		return res
	}
	if _, err := os.ReadDir(dir); err != nil {
		res.Status, res.Detail = Fail, "cannot list it: "+err.Error()
		return res
	}
	res.Status, res.Detail = OK, dir+" readable, files can be created and deleted"
	return res
}

// checkStorage: the storage root is writable and above its free-space
// floor.
func checkStorage(cfg config.Config) Result {
	res := Result{Check: "storage (storage.root)"}
	root := cfg.Storage.Root
	if err := os.MkdirAll(root, 0o750); err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "create "+root+" writable by callrecd's user, or change storage.root"
		return res
	}
	probe := filepath.Join(root, ".callrecd-doctor-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "make "+root+" writable by callrecd's user"
		return res
	}
	_ = os.Remove(probe)
	g := media.Guard{Root: root, Floor: cfg.Storage.Floor()}
	if _, err := g.Check(); err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "free space on "+root+" or lower storage.min_free"
		return res
	}
	res.Status, res.Detail = OK, root+" writable, free space above storage.min_free ("+cfg.Storage.MinFree+")"
	return res
}

// checkDatabase: the index opens and its schema is current (or serve will
// migrate it).
func checkDatabase(ctx context.Context, cfg config.Config) Result {
	res := Result{Check: "database (database.path)"}
	if _, err := os.Stat(cfg.Database.Path); errors.Is(err, os.ErrNotExist) {
		res.Status, res.Detail = OK, cfg.Database.Path+" does not exist yet: serve creates it"
		if !cfg.Database.AutoMigrate {
			res.Status, res.Fix = Fail, "run callrecd migrate, or set database.auto_migrate: true"
		}
		return res
	}
	s, err := store.OpenCurrent(ctx, cfg.Database.Path)
	if err == nil {
		s.Close()
		res.Status, res.Detail = OK, cfg.Database.Path+": schema current"
		return res
	}
	if cfg.Database.AutoMigrate {
		res.Status, res.Detail = OK, cfg.Database.Path+": "+err.Error()+" (serve migrates it at start: database.auto_migrate)"
		return res
	}
	res.Status, res.Detail, res.Fix = Fail, err.Error(), "run callrecd migrate"
	return res
}

// checkTranscoder: ffmpeg and its encoders, when a tenant or the defaults
// ask for MP3 or AMR.
func checkTranscoder(ctx context.Context, cfg config.Config) Result {
	res := Result{Check: "transcoding (ffmpeg)"}
	if cfg.Defaults.Format == string(recording.WAV) || cfg.Defaults.Format == "" {
		res.Status, res.Detail = OK, "not needed for the default format (wav); tenants set to mp3/amr need it"
		if err := (media.Transcoder{}).Check(ctx); err != nil {
			res.Status, res.Detail, res.Fix = Warn, "ffmpeg or its encoders are missing: "+err.Error(),
				"run scripts/install-media-deps before any tenant records in mp3 or amr"
		}
		return res
	}
	if err := (media.Transcoder{}).Check(ctx); err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "run scripts/install-media-deps (ffmpeg with libmp3lame and libopencore_amrnb)"
		return res
	}
	res.Status, res.Detail = OK, "ffmpeg with the encoders for "+cfg.Defaults.Format
	return res
}

// checkSMTP: the mail server answers (exports' e-mails).
func checkSMTP(ctx context.Context, cfg config.Config, timeout time.Duration) Result {
	res := Result{Check: "mail (smtp)"}
	addr := net.JoinHostPort(cfg.SMTP.Host, strconv.Itoa(cfg.SMTP.Port))
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "check smtp.host and smtp.port, or leave smtp.host empty to send no e-mail"
		return res
	}
	_ = c.Close()
	res.Status, res.Detail = OK, addr+" reachable"
	return res
}
