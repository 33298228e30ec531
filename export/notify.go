package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/callrecd/callrecd/store"
)

// Status is an export as GET /exports/{uuid} renders it: Wazo's keys
// (uuid … status) and callrecd's own after them.
type Status struct {
	UUID        string  `json:"uuid"`
	TenantUUID  string  `json:"tenant_uuid"`
	UserUUID    *string `json:"user_uuid"`
	RequestedAt string  `json:"requested_at"`
	Filename    string  `json:"filename"`
	Status      string  `json:"status"`

	FilesTotal   int     `json:"files_total"`
	FilesDone    int     `json:"files_done"`
	FilesMissing int     `json:"files_missing"`
	BytesDone    int64   `json:"bytes_done"`
	Size         int64   `json:"size"`
	Error        *string `json:"error"`
	NotifyError  *string `json:"notify_error"`
	ScheduleUUID *string `json:"schedule_uuid"`
	Email        *string `json:"email"`
	FinishedAt   *string `json:"finished_at"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// StatusOf renders a job.
func StatusOf(j store.ExportJob) Status {
	st := Status{UUID: j.UUID, TenantUUID: j.TenantUUID, UserUUID: optional(j.UserUUID),
		RequestedAt: formatTS(j.CreatedAt), Filename: Filename(j), Status: j.Status, FilesTotal: j.FilesTotal,
		FilesDone: j.FilesDone, FilesMissing: j.FilesMissing, BytesDone: j.BytesDone, Size: j.Size,
		Error: optional(j.Error), NotifyError: optional(j.NotifyError), ScheduleUUID: optional(j.ScheduleUUID),
		Email: optional(j.Email)}
	if j.FinishedAt != nil {
		st.FinishedAt = optional(formatTS(*j.FinishedAt))
	}
	return st
}

// Link finds an e-mailed link's token and says whether it still works
// (by this service's clock, the one that dated it).
func (s *Service) Link(ctx context.Context, plain string) (store.ExportDownloadToken, bool, error) {
	t, err := s.st.LookupExportDownloadToken(ctx, plain)
	if err != nil {
		return t, false, err
	}
	return t, s.now().Before(t.ExpiresAt), nil
}

// DownloadPath is the export's download route.
func DownloadPath(id string) string { return "/api/call-logd/1.0/exports/" + id + "/download" }

// DownloadLink makes a token that downloads this one export for LinkTTL
// and returns the link with it, as Wazo's e-mail has it:
// <public_url>/api/call-logd/1.0/exports/<uuid>/download?tenant=…&token=….
func (s *Service) DownloadLink(ctx context.Context, j store.ExportJob) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	now := s.now().UTC()
	if err := s.st.CreateExportDownloadToken(ctx, j.UUID, j.TenantUUID, tok, now, now.Add(s.cfg.LinkTTL)); err != nil {
		return "", err
	}
	q := url.Values{"tenant": {j.TenantUUID}, "token": {tok}}
	return strings.TrimRight(s.cfg.PublicURL, "/") + DownloadPath(j.UUID) + "?" + q.Encode(), nil
}

// notify sends the e-mail (finished jobs that asked for one), the webhooks
// and the directory copy; it returns what failed ("" = all went out). A
// failure does not change the export's status: the zip is there.
func (s *Service) notify(ctx context.Context, j store.ExportJob) string {
	var problems []string
	d := jobDestinations(j)
	link := ""
	if j.Status == store.ExportFinished && (j.Email != "" || s.cfg.Webhook != "" || d.Webhook != "") {
		var err error
		if link, err = s.DownloadLink(ctx, j); err != nil {
			problems = append(problems, "download link: "+err.Error())
		}
	}
	if j.Status == store.ExportFinished && j.Email != "" && link != "" {
		if s.cfg.Mailer == nil {
			problems = append(problems, "e-mail to "+j.Email+": "+ErrNoMail.Error())
		} else if err := s.mail(ctx, j, link); err != nil {
			problems = append(problems, "e-mail to "+j.Email+": "+err.Error())
		}
	}
	for _, hook := range []string{s.cfg.Webhook, d.Webhook} {
		if hook == "" {
			continue
		}
		if err := s.post(ctx, hook, j, link); err != nil {
			problems = append(problems, "webhook "+hook+": "+err.Error())
		}
	}
	if j.NotifyError != "" { // the directory copy's, from before
		problems = append([]string{j.NotifyError}, problems...)
	}
	for _, p := range problems {
		s.log.Error("export notification failed", "export", j.UUID, "problem", p)
	}
	return strings.Join(problems, "; ")
}

func (s *Service) mail(ctx context.Context, j store.ExportJob, link string) error {
	body := fmt.Sprintf("Hello,\r\n\r\nThe export of recordings you asked for is ready: %d recording(s), %d byte(s).\r\n",
		j.FilesDone, j.Size)
	if j.FilesMissing > 0 {
		body += fmt.Sprintf("%d recording(s) could not be read; manifest.csv in the archive lists them.\r\n", j.FilesMissing)
	}
	body += fmt.Sprintf("\r\nDownload it with this link (it works for %s):\r\n\r\n%s\r\n", s.cfg.LinkTTL, link)
	return s.cfg.Mailer.Send(ctx, j.Email, "Your export is ready", body)
}

// Webhook is the JSON a webhook receives.
type Webhook struct {
	Event       string `json:"event"` // export.finished | export.error
	Export      Status `json:"export"`
	DownloadURL string `json:"download_url,omitempty"`
}

func (s *Service) post(ctx context.Context, hook string, j store.ExportJob, link string) error {
	b, err := json.Marshal(Webhook{Event: "export." + j.Status, Export: StatusOf(j), DownloadURL: link})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// deliver copies the zip into the job's directory before the job is marked
// finished, so whoever is told it is finished finds the copy there; it
// returns what failed ("" = nothing).
func (s *Service) deliver(j store.ExportJob, path string) string {
	d := jobDestinations(j)
	if d.Directory == "" {
		return ""
	}
	if err := copyInto(path, filepath.Join(d.Directory, Filename(j))); err != nil {
		return "directory " + d.Directory + ": " + err.Error()
	}
	return ""
}

// copyInto copies a finished zip to a schedule's directory, under a
// temporary name first: a reader of that folder never sees half a file.
func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), tempPrefix+"*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return renameDurably(tmp.Name(), dst)
}
