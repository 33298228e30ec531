package api

import (
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
		if r.UUID == ru && !r.Deleted {
			return call, r, nil
		}
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

// accepts reports whether an Accept header allows the media type.
func accepts(header, ctype string) bool {
	if header == "" {
		return true
	}
	major := strings.SplitN(ctype, "/", 2)[0]
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		if mt == "*/*" || mt == ctype || mt == major+"/*" || (ctype == "audio/wav" && (mt == "audio/x-wav" || mt == "audio/wave")) {
			return true
		}
	}
	return false
}

// media serves a recording with Range and ETag support. The first request of
// a playback (no Range, or a range from byte 0) is audited.
func (s *server) media(me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		for k := range c.QueryParams() {
			if k != "token" && k != "disposition" {
				return errInvalid(k, "unknown query parameter")
			}
		}
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
		if !accepts(c.Request().Header.Get("Accept"), ctype) {
			return newError(http.StatusNotAcceptable, "not-acceptable", "the recording is "+ctype,
				map[string]any{"content_type": ctype})
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
		rng := c.Request().Header.Get("Range")
		if rng == "" || strings.HasPrefix(rng, "bytes=0-") {
			act := "recording.download"
			if disp == "inline" || rng != "" {
				act = "recording.listen"
			}
			if err := s.audit(c, call.TenantUUID, act, "recording", rec.UUID,
				map[string]any{"cdr_id": call.ID, "filename": rec.Filename}); err != nil {
				return err
			}
		}
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
		http.ServeContent(c.Response(), c.Request(), rec.Filename, st.ModTime(), f)
		return nil
	}
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
