package api

import (
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// loadRecording finds recording_uuid of call cdr_id within the caller's
// scope: another tenant's, another user's, a mismatched call or a deleted
// recording are all "not found".
func (s *server) loadRecording(c echo.Context, me bool) (store.Call, store.Recording, error) {
	id, err := pathID(c, "cdr_id")
	if err != nil {
		return store.Call{}, store.Recording{}, err
	}
	ru, err := pathUUID(c, "recording_uuid")
	if err != nil {
		return store.Call{}, store.Recording{}, err
	}
	p := getPrincipal(c)
	call, err := s.store.GetCall(c.Request().Context(), p.tenant, id)
	if err != nil {
		return store.Call{}, store.Recording{}, fromStore("cdr", err)
	}
	if me && call.SourceUserUUID != p.user && call.DestinationUserUUID != p.user {
		return store.Call{}, store.Recording{}, errNotFound("cdr", "cdr not found")
	}
	for _, r := range call.Recordings {
		if r.UUID != ru {
			continue
		}
		if r.Deleted { // Wazo: the row is there, its media is not
			return store.Call{}, store.Recording{}, newError(http.StatusBadRequest, "recording-media-not-found",
				"No recording media found", map[string]any{"recording_uuid": ru})
		}
		return call, r, nil
	}
	return store.Call{}, store.Recording{}, errNotFound("recording", "recording not found")
}

// filePath is where a recording's file lives, refusing any name that could
// leave the tenant's monitor folder.
func (s *server) filePath(r store.Recording) (string, error) {
	if err := media.CheckElement(r.Filename); err != nil || media.IsTempName(r.Filename) {
		return "", errors.Join(media.ErrBadName, err)
	}
	dir, err := media.MonitorDir(r.TenantUUID)
	if err != nil {
		return "", err
	}
	return media.Resolve(s.root, path.Join(dir, r.Filename))
}

// media serves a recording with Range and ETag support, whatever the Accept
// header says (Wazo ignores it; its SDK sends application/json). Every
// response that carries the file's bytes, whole or a range, is audited
// before the first byte goes out (servedWriter); a 304 or a 416 is not.
func (s *server) media(me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		unknownQuery(c, []string{"token", "tenant", "disposition"})
		disp := c.QueryParam("disposition")
		if disp != "" && disp != "attachment" && disp != "inline" {
			return errInvalid("disposition", "attachment or inline")
		}
		call, rec, err := s.loadRecording(c, me)
		if err != nil {
			return err
		}
		ctype := recording.Format(rec.Format).ContentType()
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		p, err := s.filePath(rec)
		if err != nil {
			s.log.Error("recording has an unsafe file name", "recording", rec.UUID, "err", err, "request_id", requestID(c))
			return errNotFound("recording", "recording file not found")
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return errNotFound("recording", "recording file not found")
		} else if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return errNotFound("recording", "recording file not found")
		}
		req := c.Request()
		normalizeRange(req)
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, ctype)
		if rec.SHA256 != "" && rec.Size == st.Size() {
			h.Set("ETag", `"`+rec.SHA256+`"`)
		} else {
			h.Set("ETag", `W/"`+strconv.FormatInt(st.Size(), 36)+"-"+strconv.FormatInt(st.ModTime().UnixNano(), 36)+`"`)
		}
		if disp == "" {
			disp = "attachment"
		}
		h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": rec.Filename}))
		h.Set("Cache-Control", "private, no-transform")
		w := &servedWriter{ResponseWriter: c.Response().Writer, size: st.Size(),
			onServe: func(status int) error {
				if req.Method != http.MethodGet { // HEAD: no bytes served
					return nil
				}
				act := "recording.download"
				if disp == "inline" || status == http.StatusPartialContent {
					act = "recording.listen"
				}
				served := "bytes 0-" + strconv.FormatInt(st.Size()-1, 10) + "/" + strconv.FormatInt(st.Size(), 10)
				if status == http.StatusPartialContent {
					served = h.Get("Content-Range")
					if served == "" {
						served = "multipart " + req.Header.Get("Range")
					}
				}
				return s.audit(c, call.TenantUUID, act, "recording", rec.UUID,
					map[string]any{"cdr_id": call.ID, "filename": rec.Filename, "served": served})
			},
			on416: func() []byte {
				ae := s.stamped(newError(http.StatusRequestedRangeNotSatisfiable, "range-not-satisfiable",
					"the Range header does not fit the recording", map[string]any{"range": req.Header.Get("Range"),
						"size": st.Size()}))
				b, _ := json.Marshal(ae)
				return b
			}}
		c.Response().Writer = w
		http.ServeContent(c.Response(), req, rec.Filename, st.ModTime(), f)
		c.Response().Writer = w.ResponseWriter
		if w.err != nil {
			c.Response().Committed = false // nothing went out: the error is answered instead
		}
		return w.err
	}
}

// normalizeRange makes the Range header what http.ServeContent reads: a
// unit other than bytes is ignored (RFC 9110 §14.2), and the unit's case
// and spaces around it do not matter.
func normalizeRange(req *http.Request) {
	rng := req.Header.Get("Range")
	if rng == "" {
		return
	}
	unit, spec, ok := strings.Cut(rng, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		req.Header.Del("Range")
		return
	}
	req.Header.Set("Range", "bytes="+strings.TrimSpace(spec))
}

// servedWriter sits between http.ServeContent and the client. Before a 200
// or 206 goes out it calls onServe (the audit); if that fails nothing is
// sent and err is the handler's error. A 416 gets Wazo's JSON error body
// instead of ServeContent's text.
type servedWriter struct {
	http.ResponseWriter
	size    int64
	onServe func(status int) error
	on416   func() []byte
	err     error
	started bool
	discard bool // ServeContent's body is not sent (failed audit, 416)
}

func (w *servedWriter) WriteHeader(code int) {
	if w.started {
		return
	}
	w.started = true
	h := w.Header()
	switch code {
	case http.StatusOK, http.StatusPartialContent:
		if err := w.onServe(code); err != nil {
			w.err, w.discard = err, true
			rid := h.Get(echo.HeaderXRequestID)
			clear(h) // the error answer starts afresh
			if rid != "" {
				h.Set(echo.HeaderXRequestID, rid)
			}
			return
		}
	case http.StatusRequestedRangeNotSatisfiable:
		body := w.on416()
		h.Del("X-Content-Type-Options")
		h.Del("Content-Disposition")
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
		w.ResponseWriter.WriteHeader(code)
		_, _ = w.ResponseWriter.Write(body)
		w.discard = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *servedWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		if w.err != nil {
			return 0, w.err // stops ServeContent's copy
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// removeRecording deletes the file, then marks the row deleted: a failure
// between the two leaves a row whose file is gone (reindex marks it
// missing), never a "deleted" recording whose audio is still on disk.
func (s *server) removeRecording(c echo.Context, rec store.Recording) error {
	if rec.Live() {
		return newError(http.StatusConflict, "recording-in-progress", "the recording is still running; stop it first",
			map[string]any{"recording_uuid": rec.UUID})
	}
	p, err := s.filePath(rec)
	if err == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		s.log.Warn("recording has an unsafe file name; not removing any file", "recording", rec.UUID, "err", err)
	}
	if err := s.store.MarkRecordingDeleted(c.Request().Context(), rec.TenantUUID, rec.UUID, s.now()); err != nil {
		return fromStore("recording", err)
	}
	return s.audit(c, rec.TenantUUID, "recording.delete", "recording", rec.UUID,
		map[string]any{"cdr_id": rec.CallID, "filename": rec.Filename})
}

func (s *server) deleteMedia(c echo.Context) error {
	_, rec, err := s.loadRecording(c, false)
	if err != nil {
		return err
	}
	if err := s.removeRecording(c, rec); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deleteMediaBulk deletes every recording of the listed calls. Every call
// must exist in the caller's tenant, and none may be recording, or nothing
// is deleted.
func (s *server) deleteMediaBulk(c echo.Context) error {
	var in struct {
		CDRIDs []int64 `json:"cdr_ids"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if len(in.CDRIDs) == 0 || len(in.CDRIDs) > 1000 {
		return errInvalid("cdr_ids", "1 to 1000 call ids")
	}
	p := getPrincipal(c)
	var recs []store.Recording
	for _, id := range in.CDRIDs {
		if id < 1 {
			return errInvalid("cdr_ids", "positive integers")
		}
		call, err := s.store.GetCall(c.Request().Context(), p.tenant, id)
		if err != nil {
			e := fromStore("cdr", err)
			var ae *apiError
			if errors.As(e, &ae) && ae.Status == http.StatusNotFound {
				ae.Details["cdr_id"] = id
			}
			return e
		}
		for _, r := range call.Recordings {
			if r.Deleted {
				continue
			}
			if r.Live() {
				return newError(http.StatusConflict, "recording-in-progress",
					"a recording of these calls is still running; stop it first",
					map[string]any{"cdr_id": id, "recording_uuid": r.UUID})
			}
			recs = append(recs, r)
		}
	}
	for _, r := range recs {
		if err := s.removeRecording(c, r); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}
