package export

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/callrecd/callrecd/media"
)

// ManifestEntry is one recording as the manifest lists it.
type ManifestEntry struct {
	CDRID         int64  `json:"cdr_id"`
	RecordingUUID string `json:"recording_uuid"`
	Start         string `json:"start"`
	End           string `json:"end"`
	Source        string `json:"source"`
	Destination   string `json:"destination"`
	Format        string `json:"format"`
	Entry         string `json:"entry"` // the file's name in the zip
	Size          int64  `json:"size"`
	SHA256        string `json:"sha256"`
	// Status is ok, missing (not readable: not in the zip), truncated (a
	// read failed part way: the entry holds what was read) or
	// checksum_mismatch (the file differs from the sha256 the index kept).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Manifest is manifest.json.
type Manifest struct {
	ExportUUID  string          `json:"export_uuid"`
	TenantUUID  string          `json:"tenant_uuid"`
	RequestedAt string          `json:"requested_at"`
	Filter      Filter          `json:"filter"`
	Files       int             `json:"files"`
	Missing     int             `json:"missing"`
	Entries     []ManifestEntry `json:"recordings"`
}

// archive streams recordings into a zip. Entries are Stored: WAV, MP3 and
// AMR do not shrink under Deflate, and storing keeps the export at disk
// speed. Nothing is held in memory but one copy buffer.
type archive struct {
	zw      *zip.Writer
	buf     []byte
	root    string
	entries []ManifestEntry
	bytes   int64
	missing int
}

func newArchive(w io.Writer, root string) *archive {
	return &archive{zw: zip.NewWriter(w), buf: make([]byte, 256<<10), root: root}
}

// hashingWriter counts and hashes what goes into the zip entry.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

// errZip marks a failure writing the zip itself (the export fails), as
// opposed to reading one recording (that recording is listed missing).
type errZip struct{ error }

func (e errZip) Unwrap() error { return e.error }

// add puts one recording in the zip as <cdr_id>/<filename>.
func (a *archive) add(it item) error {
	r, c := it.rec, it.call
	me := ManifestEntry{CDRID: c.ID, RecordingUUID: r.UUID, Start: formatTS(r.Start), Format: r.Format,
		Source: party(c.SourceExtension, c.SourceName), Destination: party(c.DestinationExtension, c.DestinationName),
		Entry: path.Join(strconv.FormatInt(c.ID, 10), r.Filename)}
	if r.End != nil {
		me.End = formatTS(*r.End)
	}
	f, st, err := a.open(r.TenantUUID, r.Filename)
	if err != nil {
		me.Status, me.Error = "missing", err.Error()
		a.missing++
		a.entries = append(a.entries, me)
		return nil
	}
	defer f.Close()
	w, err := a.zw.CreateHeader(&zip.FileHeader{Name: me.Entry, Method: zip.Store, Modified: st.ModTime().UTC()})
	if err != nil {
		return errZip{err}
	}
	hw := &hashingWriter{w: w, h: sha256.New()}
	_, err = io.CopyBuffer(hw, onlyReader{f}, a.buf)
	me.Size, me.SHA256 = hw.n, hex.EncodeToString(hw.h.Sum(nil))
	a.bytes += hw.n
	var we writeErr
	switch {
	case errors.As(err, &we):
		return errZip(we)
	case err != nil:
		me.Status, me.Error = "truncated", err.Error()
		a.missing++
	case r.SHA256 != "" && r.SHA256 != me.SHA256:
		me.Status, me.Error = "checksum_mismatch", "the index has sha256 "+r.SHA256
	default:
		me.Status = "ok"
	}
	a.entries = append(a.entries, me)
	return nil
}

// onlyReader hides *os.File's WriterTo so CopyBuffer uses the buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// writeErr marks a failed write to the zip, so add tells it from a
// failed read of the recording.
type writeErr struct{ error }

func (a *archive) open(tenant, name string) (*os.File, os.FileInfo, error) {
	if err := media.CheckElement(name); err != nil || media.IsTempName(name) {
		return nil, nil, fmt.Errorf("unsafe file name %q", name)
	}
	dir, err := media.MonitorDir(tenant)
	if err != nil {
		return nil, nil, err
	}
	p, err := media.Resolve(a.root, path.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", name)
		}
		return nil, nil, err
	}
	return f, st, nil
}

// finish writes manifest.csv and manifest.json and closes the zip.
func (a *archive) finish(m Manifest) error {
	m.Entries, m.Missing = a.entries, a.missing
	m.Files = len(a.entries) - a.missing
	if m.Entries == nil {
		m.Entries = []ManifestEntry{}
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write([]string{"cdr_id", "recording_uuid", "start", "end", "source", "destination", "format", "entry",
		"size", "sha256", "status", "error"})
	for _, e := range m.Entries {
		_ = cw.Write([]string{strconv.FormatInt(e.CDRID, 10), e.RecordingUUID, e.Start, e.End, e.Source,
			e.Destination, e.Format, e.Entry, strconv.FormatInt(e.Size, 10), e.SHA256, e.Status, e.Error})
	}
	cw.Flush()
	if err := a.small("manifest.csv", b.Bytes()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := a.small("manifest.json", append(js, '\n')); err != nil {
		return err
	}
	return a.zw.Close()
}

func (a *archive) small(name string, data []byte) error {
	w, err := a.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func party(number, name string) string {
	switch {
	case name == "":
		return number
	case number == "":
		return name
	}
	return name + " <" + number + ">"
}

const tsLayout = "2006-01-02T15:04:05.000000-07:00"

// formatTS renders a time as Wazo does: UTC, microseconds, +00:00.
func formatTS(t time.Time) string { return t.UTC().Format(tsLayout) }
