// Package export builds bulk exports of recordings as Wazo's call-logd does
// (POST …/cdr/recordings/media/export, GET …/exports/{uuid}[/download]) and
// runs them from cron schedules: a streamed zip of stored (not recompressed)
// entries with a manifest, written to a temporary name and renamed when
// complete, with at most N jobs per tenant at once, restart recovery,
// expiry, and e-mail, webhook and directory notifications.
package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// Filter selects the calls an export takes every recording of: Wazo's
// /cdr filters without paging, and cdr_ids from the body (ANDed).
type Filter struct {
	From          *time.Time `json:"from,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	Search        string     `json:"search,omitempty"`
	CallDirection string     `json:"call_direction,omitempty"`
	Number        string     `json:"number,omitempty"`
	Tags          []string   `json:"tags,omitempty"`
	UserUUIDs     []string   `json:"user_uuid,omitempty"`
	// FromID is inclusive (id >= from_id), as Wazo's start_id.
	FromID int64   `json:"from_id,omitempty"`
	CDRIDs []int64 `json:"cdr_ids,omitempty"`
}

// ParseFilter reads a Filter stored as JSON ("" or {} = everything).
func ParseFilter(raw json.RawMessage) (Filter, error) {
	var f Filter
	if len(raw) == 0 {
		return f, nil
	}
	err := json.Unmarshal(raw, &f)
	return f, err
}

// JSON is the filter as stored.
func (f Filter) JSON() json.RawMessage {
	b, _ := json.Marshal(f)
	return b
}

func (f Filter) cdrQuery(tenant string) store.CDRQuery {
	q := store.CDRQuery{Tenant: tenant, From: f.From, Until: f.Until, Search: f.Search,
		CallDirection: f.CallDirection, Number: f.Number, Tags: f.Tags, UserUUIDs: f.UserUUIDs,
		CallIDs: f.CDRIDs, Order: "id"}
	if f.FromID > 1 {
		q.FromID = f.FromID - 1 // the store's FromID is exclusive
	}
	return q
}

// Exportable says whether a recording goes into an export: never a deleted
// one, nor one still running or that never had a file.
func Exportable(r store.Recording) bool {
	st := recording.State(r.State)
	return !r.Deleted && !r.Live() && st != recording.StateFailed && r.Filename != ""
}

// item is one recording to put in the zip, with what the manifest says of
// its call.
type item struct {
	call store.Call
	rec  store.Recording
}

// pageSize is how many calls each query of an export's enumeration reads.
const pageSize = 500

// each calls fn with every exportable recording of the calls the filter
// selects, by call id; fn returning false stops. The walk is keyed on the
// call id, so it ends: each page starts after the last id seen.
func each(ctx context.Context, st *store.Store, tenant string, f Filter, fn func(item) bool) error {
	q := f.cdrQuery(tenant)
	q.Page = store.Page{Limit: pageSize}
	_, _, filtered, err := st.QueryCDR(ctx, store.CDRQuery{Tenant: tenant, From: q.From, Until: q.Until,
		Search: q.Search, CallDirection: q.CallDirection, Number: q.Number, Tags: q.Tags, UserUUIDs: q.UserUUIDs,
		CallIDs: q.CallIDs, FromID: q.FromID, Page: store.Page{Limit: 1}})
	if err != nil {
		return err
	}
	// Calls that start in the window can still be indexed during the walk:
	// room for twice as many as counted.
	for pages := 2*(filtered/pageSize) + 10; pages > 0; pages-- {
		calls, _, _, err := st.QueryCDR(ctx, q)
		if err != nil {
			return err
		}
		for _, c := range calls {
			for _, r := range c.Recordings {
				if Exportable(r) && !fn(item{call: c, rec: r}) {
					return nil
				}
			}
		}
		if len(calls) < pageSize {
			return nil
		}
		q.FromID = calls[len(calls)-1].ID
	}
	return errors.New("export: more calls than counted; the index changed during the walk")
}

// ErrNothingToExport: no call the filter selects has a recording with a
// file (Wazo's no-recording-to-export).
var ErrNothingToExport = errors.New("no recording to export")

// FieldError is a bad value in a request, naming its field.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Problem) }
