package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Exporter runs bulk exports and their schedules; *export.Service
// satisfies it. Nil answers 503 on the routes that start work.
type Exporter interface {
	Submit(ctx context.Context, r export.Request) (store.ExportJob, error)
	// SchedulesChanged wakes the scheduler after a change over the API.
	SchedulesChanged()
	// NextRun is when a schedule fires next.
	NextRun(ctx context.Context, sc store.ExportSchedule) (time.Time, bool)
	// Link finds an e-mailed download token (store.ErrNotFound if it is
	// not one) and whether it still works.
	Link(ctx context.Context, plain string) (store.ExportDownloadToken, bool, error)
}

const (
	exportPath       = callLogd + "/cdr/recordings/media/export"
	exportStatusPath = callLogd + "/exports/:export_uuid"
	exportDownload   = exportStatusPath + "/download"
	schedulesPath    = own + "/export-schedules"
)

// exportQuery are the query keys POST …/export reads; any other key is
// ignored, as Wazo's schema does (its Python client sends tenant_uuid and
// to).
var exportQuery = []string{"from", "until", "to", "search", "call_direction", "number", "tags", "user_uuid",
	"from_id", "recurse", "email", "tenant_uuid"}

func (s *server) exportRoutes() []route {
	ok, created, none := http.StatusOK, http.StatusCreated, http.StatusNoContent
	return []route{
		{method: "POST", path: exportPath, access: accessAdmin, tag: "call-logd", summary: "export every recording of the matching calls into a zip (202, Location: the export)", query: exportQuery, body: "CDRIDs", status: http.StatusAccepted, handler: s.createExport},
		{method: "GET", path: exportStatusPath, access: accessAdmin, tag: "call-logd", summary: "an export's status and progress", status: ok, handler: s.getExport},
		{method: "GET", path: exportDownload, access: accessAdmin, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "download a finished export (Range; 202 while not done); ?token= may be the e-mailed link's", query: []string{"tenant"}, status: ok, produces: "application/zip", handler: s.downloadExport},
		{method: "GET", path: own + "/exports", access: accessAdmin, tag: "callrecd", summary: "the tenant's exports, newest first", query: []string{"limit", "offset"}, status: ok, handler: s.listExports},
		{method: "GET", path: schedulesPath, access: accessAdmin, tag: "callrecd", summary: "export schedules", status: ok, handler: s.listSchedules},
		{method: "POST", path: schedulesPath, access: accessAdmin, tag: "callrecd", summary: "create an export schedule", status: created, handler: s.createSchedule},
		{method: "GET", path: schedulesPath + "/:schedule_uuid", access: accessAdmin, tag: "callrecd", summary: "an export schedule", status: ok, handler: s.getSchedule},
		{method: "PUT", path: schedulesPath + "/:schedule_uuid", access: accessAdmin, tag: "callrecd", summary: "replace an export schedule (schedules from the configuration are read-only)", status: ok, handler: s.putSchedule},
		{method: "DELETE", path: schedulesPath + "/:schedule_uuid", access: accessAdmin, tag: "callrecd", summary: "delete an export schedule", status: none, handler: s.deleteSchedule},
	}
}

func errExportNotFound(id string) *apiError {
	return newError(http.StatusNotFound, "export-not-found-with-given-uuid", "No export found matching this UUID",
		map[string]any{"export_uuid": id})
}

func errNoExporter() *apiError {
	return newError(http.StatusServiceUnavailable, "exports-unavailable", "exports are not running on this server", nil)
}

// parseExportQuery reads Wazo's export query: the /cdr filters without
// paging, plus email. `to` is read as until when until is absent: Wazo's
// Python client sends the seed script's to= as is, and Wazo ignores it.
func parseExportQuery(c echo.Context) (export.Filter, string, error) {
	var f export.Filter
	var err error
	if f.From, err = parseTime("from", c.QueryParam("from")); err != nil {
		return f, "", err
	}
	if f.Until, err = parseTime("until", c.QueryParam("until")); err != nil {
		return f, "", err
	}
	if f.Until == nil {
		if f.Until, err = parseTime("to", c.QueryParam("to")); err != nil {
			return f, "", err
		}
	}
	f.Search = c.QueryParam("search")
	if err := checkLen("search", f.Search, 128); err != nil {
		return f, "", err
	}
	if d := c.QueryParam("call_direction"); d != "" {
		if !strings.Contains(" internal inbound outbound unknown ", " "+d+" ") {
			return f, "", errInvalid("call_direction", "internal, inbound, outbound or unknown")
		}
		f.CallDirection = d
	}
	f.Number = c.QueryParam("number")
	if err := checkLen("number", f.Number, 64); err != nil {
		return f, "", err
	}
	if t := c.QueryParam("tags"); t != "" {
		for _, tag := range strings.Split(t, ",") {
			if tag == "" || len(tag) > 128 {
				return f, "", errInvalid("tags", "comma-separated, each 1 to 128 bytes")
			}
			f.Tags = append(f.Tags, tag)
		}
	}
	if u := c.QueryParam("user_uuid"); u != "" {
		for _, one := range strings.Split(u, ",") {
			id, err := parseUUID("user_uuid", one)
			if err != nil {
				return f, "", err
			}
			f.UserUUIDs = append(f.UserUUIDs, id)
		}
		if len(f.UserUUIDs) > 100 {
			return f, "", errInvalid("user_uuid", "at most 100")
		}
	}
	if v := c.QueryParam("from_id"); v != "" {
		if f.FromID, err = strconv.ParseInt(v, 10, 64); err != nil || f.FromID < 0 {
			return f, "", errInvalid("from_id", "a non-negative integer")
		}
	}
	// recurse: callrecd has no sub-tenants; the value is still checked.
	if _, err := parseBool("recurse", c.QueryParam("recurse")); err != nil {
		return f, "", err
	}
	email := c.QueryParam("email")
	if email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Name != "" {
			return f, "", errInvalid("email", "not a valid e-mail address")
		}
		email = a.Address
	}
	return f, email, nil
}

// maxExportIDs bounds cdr_ids (each is one SQL parameter).
const maxExportIDs = 10000

// exportBody reads the optional {"cdr_ids": [int]}: an empty body, {} and
// an empty list all mean "no id filter"; unknown keys are ignored.
func exportBody(c echo.Context) ([]int64, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
	if err != nil {
		return nil, jsonError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var in struct {
		CDRIDs []int64 `json:"cdr_ids"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&in); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, newError(http.StatusBadRequest, "invalid-data", "Input Error - body: trailing data after the JSON object", nil)
	}
	if len(in.CDRIDs) > maxExportIDs {
		return nil, errInvalid("cdr_ids", "at most "+strconv.Itoa(maxExportIDs)+" call ids")
	}
	return in.CDRIDs, nil
}

func (s *server) createExport(c echo.Context) error {
	f, email, err := parseExportQuery(c)
	if err != nil {
		return err
	}
	if f.CDRIDs, err = exportBody(c); err != nil {
		return err
	}
	p := getPrincipal(c)
	tenant, err := p.needTenant()
	if err != nil {
		return err
	}
	if s.exports == nil {
		return errNoExporter()
	}
	j, err := s.exports.Submit(c.Request().Context(), export.Request{Tenant: tenant, UserUUID: p.user,
		Actor: p.actor(), RemoteAddr: c.RealIP(), Filter: f, Email: email,
		AuditDetails: map[string]any{"request_id": requestID(c), "role": p.token.Role}})
	switch {
	case errors.Is(err, export.ErrNothingToExport):
		return newError(http.StatusBadRequest, "no-recording-to-export", "No recording to export", nil)
	case errors.Is(err, export.ErrNoMail):
		return errInvalid("email", err.Error())
	case err != nil:
		return fromStore("export", err)
	}
	c.Response().Header().Set(echo.HeaderLocation, callLogd+"/exports/"+j.UUID)
	return c.JSON(http.StatusAccepted, map[string]string{"uuid": j.UUID})
}

// loadExport finds the path's export in the caller's tenant; anything else
// (another tenant's, a malformed uuid) is Wazo's 404.
func (s *server) loadExport(c echo.Context) (store.ExportJob, error) {
	id := c.Param("export_uuid")
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return store.ExportJob{}, errExportNotFound(id)
	}
	id = u.String()
	j, err := s.store.GetExportJob(c.Request().Context(), getPrincipal(c).tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, errExportNotFound(id)
	}
	return j, err
}

func (s *server) getExport(c echo.Context) error {
	j, err := s.loadExport(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, export.StatusOf(j))
}

func (s *server) listExports(c echo.Context) error {
	pg, err := parsePage(c, 100)
	if err != nil {
		return err
	}
	jobs, err := s.store.ListExportJobs(c.Request().Context(), getPrincipal(c).tenant, pg)
	if err != nil {
		return err
	}
	out := make([]export.Status, len(jobs))
	for i, j := range jobs {
		out[i] = export.StatusOf(j)
	}
	return renderList(c, out, len(out))
}

// downloadExport serves a finished export with Range, as Wazo's does:
// pending or processing → 202 export-not-done-yet, error → 500
// export-error, no file (expired) → 404. Every download is audited.
func (s *server) downloadExport(c echo.Context) error {
	j, err := s.loadExport(c)
	if err != nil {
		return err
	}
	details := map[string]any{"export_uuid": j.UUID}
	switch {
	case j.Status == store.ExportPending || j.Status == store.ExportProcessing:
		return newError(http.StatusAccepted, "export-not-done-yet", "Export: not done yet", details)
	case j.Status == store.ExportError:
		return newError(http.StatusInternalServerError, "export-error", "Error while creating the export", details)
	case j.Path == "":
		return errExportNotFound(j.UUID)
	}
	f, err := os.Open(j.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		details["export_path"] = j.Path
		return newError(http.StatusInternalServerError, "export-filesystem-not-found", "Export: not found on filesystem", details)
	case errors.Is(err, fs.ErrPermission):
		details["export_path"] = j.Path
		return newError(http.StatusInternalServerError, "export-permission-denied", "Export: permission denied", details)
	case err != nil:
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	name := export.Filename(j)
	if err := s.audit(c, j.TenantUUID, "export.download", "export", j.UUID,
		map[string]any{"filename": name, "range": c.Request().Header.Get("Range")}); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-transform")
	h.Set("ETag", `"`+j.UUID+"-"+strconv.FormatInt(st.Size(), 36)+`"`)
	http.ServeContent(c.Response(), c.Request(), name, st.ModTime(), f)
	return nil
}
