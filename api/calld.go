package api

import (
	"net/http"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
	"github.com/labstack/echo/v4"
)

type action string

// callJSON is one party channel of a live call, as Wazo's calld lists
// calls (call_id is the channel), with callrecd's recording details.
type callJSON struct {
	CallID             string          `json:"call_id"`
	ConversationID     string          `json:"conversation_id"`
	CDRID              *int64          `json:"cdr_id"`
	TenantUUID         string          `json:"tenant_uuid"`
	UserUUID           *string         `json:"user_uuid"`
	CallerIDNumber     string          `json:"caller_id_number"`
	CallerIDName       string          `json:"caller_id_name"`
	PeerCallerIDNumber string          `json:"peer_caller_id_number"`
	PeerCallerIDName   string          `json:"peer_caller_id_name"`
	Status             string          `json:"status"`
	Direction          string          `json:"direction"`
	IsExternal         bool            `json:"is_external"`
	CreationTime       string          `json:"creation_time"`
	AnswerTime         *string         `json:"answer_time"`
	RecordState        string          `json:"record_state"`
	Recordings         []liveRecording `json:"recordings"`
}

type liveRecording struct {
	UUID            string         `json:"uuid"`
	State           string         `json:"state"`
	StartTime       string         `json:"start_time"`
	EndTime         *string        `json:"end_time"`
	Filename        string         `json:"filename"`
	Format          string         `json:"format"`
	StartedBy       string         `json:"started_by"`
	StopReason      *string        `json:"stop_reason"`
	FailureReason   *string        `json:"failure_reason"`
	PausedIntervals []intervalJSON `json:"paused_intervals"`
}

// recordState is Wazo's record_state ("active"/"inactive") plus "paused".
func recordState(s recording.State) string {
	switch s {
	case recording.StateRecording:
		return "active"
	case recording.StatePaused:
		return "paused"
	}
	return "inactive"
}

func renderCall(ci engine.CallInfo, onlyUser string) []callJSON {
	recs := make([]liveRecording, 0, len(ci.Recordings))
	for _, r := range ci.Recordings {
		lr := liveRecording{UUID: r.UUID, State: string(r.State), StartTime: ts(r.Start), Filename: r.Filename,
			Format: string(r.Format), StartedBy: string(r.StartedBy), StopReason: strPtr(string(r.StopReason)),
			FailureReason: strPtr(r.FailureReason), PausedIntervals: make([]intervalJSON, 0, len(r.Paused))}
		if !r.End.IsZero() {
			lr.EndTime = tsPtr(&r.End)
		}
		for _, iv := range r.Paused {
			lr.PausedIntervals = append(lr.PausedIntervals, intervalJSON{Start: ts(iv.Start), End: tsPtr(&iv.End)})
		}
		recs = append(recs, lr)
	}
	var out []callJSON
	for i, p := range ci.Parties {
		if onlyUser != "" && p.UserUUID != onlyUser {
			continue
		}
		cj := callJSON{CallID: p.Channel, ConversationID: ci.PBXCallID, TenantUUID: ci.Tenant,
			CallerIDNumber: p.Number, CallerIDName: p.Name, Status: "Ringing", Direction: string(ci.Direction),
			IsExternal:   p.Role == engine.RoleExternal || p.Role == engine.RoleUnknown,
			CreationTime: ts(ci.Start), RecordState: recordState(ci.Record), Recordings: recs}
		if ci.ID > 0 {
			id := ci.ID
			cj.CDRID = &id
		}
		if p.UserUUID != "" {
			u := p.UserUUID
			cj.UserUUID = &u
		}
		if p.Answered {
			cj.Status = "Up"
		}
		if !ci.Answer.IsZero() {
			cj.AnswerTime = tsPtr(&ci.Answer)
		}
		// The peer: the first other party (Wazo shows the one it talks to).
		for j, q := range ci.Parties {
			if j != i {
				cj.PeerCallerIDNumber, cj.PeerCallerIDName = q.Number, q.Name
				break
			}
		}
		out = append(out, cj)
	}
	return out
}

func (s *server) callControl() (CallControl, error) {
	if s.calls == nil {
		return nil, newError(http.StatusServiceUnavailable, "call-control-unavailable",
			"call control is not available (no engine)", nil)
	}
	return s.calls, nil
}

func (s *server) listCalls(me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		cc, err := s.callControl()
		if err != nil {
			return err
		}
		p := getPrincipal(c)
		only := ""
		if me {
			only = p.user
		}
		items := []callJSON{}
		for _, ci := range cc.Calls(p.tenant) {
			items = append(items, renderCall(ci, only)...)
		}
		return renderList(c, items, len(items))
	}
}

// record starts, stops, pauses or resumes the recording of a live call. A
// user may only control calls they are a party of; another tenant's call, or
// a call the user is not on, is "not found".
func (s *server) record(a action, me bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		cc, err := s.callControl()
		if err != nil {
			return err
		}
		ref := c.Param("call_id")
		if ref == "" || len(ref) > 256 {
			return errInvalid("call_id", "1 to 256 bytes")
		}
		p := getPrincipal(c)
		ctx := c.Request().Context()
		if me {
			ci, err := cc.Call(p.tenant, ref)
			if err != nil {
				return fromEngine(err)
			}
			mine := false
			for _, party := range ci.Parties {
				mine = mine || party.UserUUID == p.user
			}
			if !mine {
				return errNotFound("call", "call not found")
			}
		}
		var ri engine.RecordingInfo
		switch a {
		case "start":
			ri, err = cc.StartRecording(ctx, p.tenant, ref, recording.ByAPI)
		case "stop":
			ri, err = cc.StopRecording(ctx, p.tenant, ref, recording.ByAPI)
		case "pause":
			ri, err = cc.PauseRecording(ctx, p.tenant, ref, recording.ByAPI)
		case "resume":
			ri, err = cc.ResumeRecording(ctx, p.tenant, ref, recording.ByAPI)
		}
		if err != nil {
			return fromEngine(err)
		}
		if err := s.audit(c, ri.Tenant, "recording."+string(a), "recording", ri.UUID,
			map[string]any{"call": ref}); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}
