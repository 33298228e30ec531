package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// apiError is Wazo's error shape: {"message", "error_id", "details",
// "timestamp"}; Wazo's Python clients tell an error body by those four keys.
type apiError struct {
	Status    int            `json:"-"`
	Message   string         `json:"message"`
	ErrorID   string         `json:"error_id"`
	Details   map[string]any `json:"details"`
	Timestamp float64        `json:"timestamp"` // Unix seconds, as Wazo's time.time()
	cause     error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

func (e *apiError) Unwrap() error { return e.cause }

func newError(status int, id, msg string, details map[string]any) *apiError {
	if details == nil {
		details = map[string]any{}
	}
	return &apiError{Status: status, ErrorID: id, Message: msg, Details: details}
}

func errInvalid(field, msg string) *apiError {
	return newError(http.StatusBadRequest, "invalid-data", "Input Error - "+field+": "+msg,
		map[string]any{field: map[string]any{"message": msg}})
}

func errNotFound(resource, msg string) *apiError {
	return newError(http.StatusNotFound, "not-found", msg, map[string]any{"resource": resource})
}

func errUnauthorized(msg string) *apiError {
	return newError(http.StatusUnauthorized, "unauthorized", msg, nil)
}

// errForbidden: a valid token without the right. Not 401, which Wazo's
// clients read as "token expired" and answer by refreshing it.
func errForbidden(msg string) *apiError {
	return newError(http.StatusForbidden, "forbidden", msg, nil)
}

// fromStore maps the store's typed errors; anything else is a 500 whose
// cause is logged, not shown.
func fromStore(resource string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(resource, resource+" not found")
	case errors.Is(err, store.ErrConflict):
		e := newError(http.StatusConflict, "conflict", resource+" conflicts with an existing one", nil)
		e.cause = err
		return e
	case errors.Is(err, store.ErrInvalid):
		e := newError(http.StatusBadRequest, "invalid-data", "Input Error - "+resource+": "+store.ErrInvalid.Error(),
			map[string]any{"reason": invalidReason(err)})
		e.cause = err
		return e
	}
	return err
}

// invalidReason keeps the part of a store error after "invalid value: ".
func invalidReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, store.ErrInvalid.Error()); i >= 0 {
		return strings.TrimLeft(msg[i+len(store.ErrInvalid.Error()):], ": ")
	}
	return msg
}

// fromEngine maps the engine's request errors.
func fromEngine(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNoSuchCall):
		return errNotFound("call", "call not found")
	case errors.Is(err, engine.ErrNotAllowed):
		e := newError(http.StatusForbidden, "recording-not-allowed", "recording is not allowed on this call",
			map[string]any{"reason": strings.TrimPrefix(err.Error(), engine.ErrNotAllowed.Error()+": ")})
		return e
	case errors.Is(err, engine.ErrWrongState):
		return newError(http.StatusConflict, "wrong-record-state", "the call's recording is not in a state that allows this",
			map[string]any{"reason": strings.TrimPrefix(err.Error(), engine.ErrWrongState.Error()+": ")})
	}
	return err
}

// handleError renders every error in Wazo's shape. Internal errors are
// logged with the request id and answered without their cause.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *apiError
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = tooLarge()
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			ae = errNotFound("route", "no such route")
		case http.StatusMethodNotAllowed:
			ae = newError(he.Code, "method-not-allowed", "method not allowed", nil)
		case http.StatusRequestEntityTooLarge:
			ae = tooLarge()
		default:
			ae = newError(he.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-")),
				fmt.Sprint(he.Message), nil)
		}
	default:
		s.log.Error("request failed", "request_id", requestID(c), "route", c.Path(), "err", err)
		ae = newError(http.StatusInternalServerError, "internal-error", "internal server error",
			map[string]any{"request_id": requestID(c)})
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, s.stamped(ae))
}

// stamped is ae with its timestamp set (now, unless already set).
func (s *server) stamped(ae *apiError) *apiError {
	if ae.Timestamp == 0 {
		out := *ae
		out.Timestamp = float64(s.now().UnixMicro()) / 1e6
		return &out
	}
	return ae
}

func tooLarge() *apiError {
	return newError(http.StatusRequestEntityTooLarge, "request-too-large", "request body is larger than 1 MiB",
		map[string]any{"max_bytes": maxBody})
}

// decodeJSON reads a JSON object body: at most 1 MiB, no trailing data,
// right types. Unknown fields are ignored (Wazo's schemas exclude them, and
// its clients send fields callrecd does not manage) and logged at debug; a
// null for a boolean is refused, as Wazo does, rather than read as "no
// change".
func decodeJSON(c echo.Context, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
	if err != nil {
		return jsonError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, "invalid-data", "Input Error - body: trailing data after the JSON object", nil)
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return nil // not an object: dst is not a struct (Decode accepted it)
	}
	fields := jsonFields(reflect.TypeOf(dst))
	var unknown []string
	for k, v := range raw {
		t, ok := fields[strings.ToLower(k)]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if string(bytes.TrimSpace(v)) == "null" && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool {
			return errInvalid(k, "may not be null")
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		logger(c).Debug("unknown body fields ignored", "route", c.Path(), "fields", unknown, "request_id", requestID(c))
	}
	return nil
}

// jsonFields maps the lower-cased JSON names of a struct's fields (dst is a
// pointer to it) to their types; encoding/json matches names that way too.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]reflect.Type{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	return out
}

const loggerKey = "callrecd.logger"

// logger is the server's logger, for helpers that only have the context.
func logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// unknownQuery logs, at debug, the query parameters a route does not read
// (Wazo ignores them too).
func unknownQuery(c echo.Context, known ...[]string) {
	var unknown []string
	for k := range c.QueryParams() {
		if !slices.ContainsFunc(known, func(ks []string) bool { return slices.Contains(ks, k) }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		logger(c).Debug("unknown query parameters ignored", "route", c.Path(), "params", unknown, "request_id", requestID(c))
	}
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "invalid-data", "Input Error - body: empty body, a JSON object is required", nil)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid-data", "Input Error - body: malformed JSON",
			map[string]any{"reason": err.Error()})
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return errInvalid(field, "wrong type: want "+te.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errInvalid(field, "unknown field")
	}
	return newError(http.StatusBadRequest, "invalid-data", "Input Error - body: "+err.Error(), nil)
}
