package api

import "github.com/callrecd/callrecd/store"

// userJSON is a confd user: Wazo's user shape (what Wazo's SDK reads into
// its Profile), with callrecd's values where it has them, the neutral
// value Wazo shows for a fresh user where callrecd does not manage the
// thing (forwards, services, voicemail, …), and callrecd's own extension
// and endpoints.
type userJSON struct {
	UUID                              string         `json:"uuid"`
	TenantUUID                        string         `json:"tenant_uuid"`
	Firstname                         string         `json:"firstname"`
	Lastname                          string         `json:"lastname"`
	Email                             string         `json:"email"`
	Extension                         string         `json:"extension"`
	Endpoints                         []string       `json:"endpoints"`
	CallRecordOutgoingInternalEnabled bool           `json:"call_record_outgoing_internal_enabled"`
	CallRecordOutgoingExternalEnabled bool           `json:"call_record_outgoing_external_enabled"`
	CallRecordIncomingInternalEnabled bool           `json:"call_record_incoming_internal_enabled"`
	CallRecordIncomingExternalEnabled bool           `json:"call_record_incoming_external_enabled"`
	CallRecordEnabled                 bool           `json:"call_record_enabled"` // Wazo's deprecated "all four"
	OnlineCallRecordEnabled           bool           `json:"online_call_record_enabled"`
	CallerID                          string         `json:"caller_id"`
	OutgoingCallerID                  string         `json:"outgoing_caller_id"`
	MobilePhoneNumber                 *string        `json:"mobile_phone_number"`
	Username                          *string        `json:"username"`
	Timezone                          *string        `json:"timezone"`
	Language                          *string        `json:"language"`
	Description                       *string        `json:"description"`
	Userfield                         *string        `json:"userfield"`
	RingSeconds                       int            `json:"ring_seconds"`
	SimultaneousCalls                 int            `json:"simultaneous_calls"`
	SubscriptionType                  int            `json:"subscription_type"`
	Enabled                           bool           `json:"enabled"`
	CallTransferEnabled               bool           `json:"call_transfer_enabled"`
	DTMFHangupEnabled                 bool           `json:"dtmf_hangup_enabled"`
	SupervisionEnabled                bool           `json:"supervision_enabled"`
	CreatedAt                         string         `json:"created_at"`
	Lines                             []userLineJSON `json:"lines"`
	Forwards                          userForwards   `json:"forwards"`
	Services                          userServices   `json:"services"`
	Incalls                           []any          `json:"incalls"`
	Groups                            []any          `json:"groups"`
	Queues                            []any          `json:"queues"`
	Switchboards                      []any          `json:"switchboards"`
	CallPickupTargetUsers             []any          `json:"call_pickup_target_users"`
	Agent                             *struct{}      `json:"agent"`
	Voicemail                         *struct{}      `json:"voicemail"`
}

// userLineJSON is one of the user's lines: callrecd's endpoints in order,
// numbered from 1 (callrecd has no line rows; the id is the position).
type userLineJSON struct {
	ID             int             `json:"id"`
	Name           string          `json:"name"`
	Extensions     []lineExtension `json:"extensions"`
	EndpointSIP    *lineEndpoint   `json:"endpoint_sip"`
	EndpointSCCP   *lineEndpoint   `json:"endpoint_sccp"`
	EndpointCustom *lineEndpoint   `json:"endpoint_custom"`
}

type lineExtension struct {
	Exten   string `json:"exten"`
	Context string `json:"context"`
}

type lineEndpoint struct {
	Name string `json:"name"`
}

type forwardJSON struct {
	Enabled     bool    `json:"enabled"`
	Destination *string `json:"destination"`
}

type userForwards struct {
	Busy          forwardJSON `json:"busy"`
	NoAnswer      forwardJSON `json:"noanswer"`
	Unconditional forwardJSON `json:"unconditional"`
}

type serviceJSON struct {
	Enabled bool `json:"enabled"`
}

type userServices struct {
	DND          serviceJSON `json:"dnd"`
	IncallFilter serviceJSON `json:"incallfilter"`
}

func (s *server) renderUser(u store.User) userJSON {
	eps := u.Endpoints
	if eps == nil {
		eps = []string{}
	}
	out := userJSON{UUID: u.UUID, TenantUUID: u.TenantUUID, Firstname: u.Firstname, Lastname: u.Lastname,
		Email: u.Email, Extension: u.Extension, Endpoints: eps,
		CallRecordOutgoingInternalEnabled: u.CallRecordOutgoingInternalEnabled,
		CallRecordOutgoingExternalEnabled: u.CallRecordOutgoingExternalEnabled,
		CallRecordIncomingInternalEnabled: u.CallRecordIncomingInternalEnabled,
		CallRecordIncomingExternalEnabled: u.CallRecordIncomingExternalEnabled,
		CallRecordEnabled: u.CallRecordOutgoingInternalEnabled && u.CallRecordOutgoingExternalEnabled &&
			u.CallRecordIncomingInternalEnabled && u.CallRecordIncomingExternalEnabled,
		OnlineCallRecordEnabled: u.OnlineCallRecordEnabled,
		CallerID:                `"` + u.Name() + `"`, OutgoingCallerID: "default",
		RingSeconds: 30, SimultaneousCalls: 5, Enabled: true, CallTransferEnabled: true, SupervisionEnabled: true,
		CreatedAt: ts(u.CreatedAt), Lines: make([]userLineJSON, len(eps)),
		Incalls: []any{}, Groups: []any{}, Queues: []any{}, Switchboards: []any{}, CallPickupTargetUsers: []any{}}
	ctx := s.dialplanContext(u.TenantUUID)
	for i, ep := range eps {
		l := userLineJSON{ID: i + 1, Name: ep, Extensions: []lineExtension{}, EndpointSIP: &lineEndpoint{Name: ep}}
		if u.Extension != "" {
			l.Extensions = append(l.Extensions, lineExtension{Exten: u.Extension, Context: ctx})
		}
		out.Lines[i] = l
	}
	return out
}
