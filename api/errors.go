package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// apiError is Wazo's error shape: {"message", "error_id", "details"}.
type apiError struct {
	Status  int            `json:"-"`
	Message string         `json:"message"`
	ErrorID string         `json:"error_id"`
	Details map[string]any `json:"details"`
	cause   error
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
	_ = c.JSON(ae.Status, ae)
}

func tooLarge() *apiError {
	return newError(http.StatusRequestEntityTooLarge, "request-too-large", "request body is larger than 1 MiB",
		map[string]any{"max_bytes": maxBody})
}

// decodeJSON reads a JSON object body strictly: at most 1 MiB, no unknown
// fields, no trailing data, right types.
func decodeJSON(c echo.Context, dst any) error {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return newError(http.StatusBadRequest, "invalid-data", "Input Error - body: trailing data after the JSON object", nil)
	}
	return nil
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
