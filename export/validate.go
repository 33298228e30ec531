package export

import (
	"encoding/json"
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

func parseScheduleFilter(raw json.RawMessage) (ScheduleFilter, error) {
	var f ScheduleFilter
	if len(raw) == 0 {
		return f, nil
	}
	err := json.Unmarshal(raw, &f)
	return f, err
}

// JSON is the filter as a schedule stores it.
func (f ScheduleFilter) JSON() json.RawMessage {
	b, _ := json.Marshal(f)
	return b
}

var directions = []string{store.DirectionInternal, store.DirectionInbound, store.DirectionOutbound, store.DirectionUnknown}

// ValidateSchedule checks a schedule before it is stored, naming the first
// bad field (the API's field names: window for Period, filters.*).
func ValidateSchedule(sc store.ExportSchedule) error {
	bad := func(field, problem string) error { return &FieldError{Field: field, Problem: problem} }
	if sc.Name == "" || len(sc.Name) > 128 {
		return bad("name", "1 to 128 characters")
	}
	if _, err := ParseCron(sc.Cron); err != nil {
		return bad("cron", "not a 5-field cron expression or @descriptor such as \"22 1 * * 1\" or \"@weekly\": "+err.Error())
	}
	if !slices.Contains(Windows, sc.Period) {
		return bad("window", "previous_day, previous_week or previous_month")
	}
	if sc.Email != "" {
		if _, err := mail.ParseAddress(sc.Email); err != nil {
			return bad("email", "not an e-mail address")
		}
	}
	if sc.Webhook != "" {
		if u, err := url.Parse(sc.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("webhook", "an http(s) URL")
		}
	}
	if sc.Directory != "" && (!filepath.IsAbs(sc.Directory) || filepath.Clean(sc.Directory) != sc.Directory) {
		return bad("directory", "an absolute, clean path on the server")
	}
	f, err := parseScheduleFilter(sc.Filters)
	if err != nil {
		return bad("filters", err.Error())
	}
	return f.validate("filters.")
}

func (f ScheduleFilter) validate(prefix string) error {
	bad := func(field, problem string) error { return &FieldError{Field: prefix + field, Problem: problem} }
	if f.CallDirection != "" && !slices.Contains(directions, f.CallDirection) {
		return bad("call_direction", "internal, inbound, outbound or unknown")
	}
	if len(f.Search) > 128 {
		return bad("search", "at most 128 bytes")
	}
	if len(f.Number) > 64 {
		return bad("number", "at most 64 bytes")
	}
	for _, t := range f.Tags {
		if t == "" || len(t) > 128 {
			return bad("tags", "each 1 to 128 bytes")
		}
	}
	for _, u := range f.UserUUIDs {
		if _, err := uuid.Parse(u); err != nil || len(u) != 36 {
			return bad("user_uuid", "not a UUID: "+u)
		}
	}
	return nil
}

// Validate checks a filter built outside the API (the CLI), naming the
// first bad field.
func (f Filter) Validate() error {
	if f.FromID < 0 {
		return &FieldError{Field: "from_id", Problem: "a non-negative integer"}
	}
	return ScheduleFilter{Search: f.Search, CallDirection: f.CallDirection, Number: f.Number, Tags: f.Tags,
		UserUUIDs: f.UserUUIDs}.validate("")
}
