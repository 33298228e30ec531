package api

import (
	"errors"
	"net/http"

	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
)

// SIP credentials of callrecd's SIP listener (sipctl), confd-style:
// PUT /api/callrecd/1.0/sip_credentials/{username} {"password", "endpoint"}
// creates or replaces one (201 / 200), GET lists them, DELETE removes one.
// The password is never stored (only its HA1 per algorithm, for the realm
// the listener challenges with) nor returned.

const sipCredentialsPath = own + "/sip_credentials"

func (s *server) sipCredentialRoutes() []route {
	ok, none := http.StatusOK, http.StatusNoContent
	return []route{
		{method: "GET", path: sipCredentialsPath, access: accessAdmin, tag: "callrecd", summary: "SIP listener credentials (never the password)", status: ok, response: "SIPCredentialList", handler: s.listSIPCredentials},
		{method: "PUT", path: sipCredentialsPath + "/:username", access: accessAdmin, tag: "callrecd", summary: "create or replace a SIP listener credential: {\"password\", \"endpoint\"} (endpoint defaults to the username)", body: "SIPCredentialPut", status: ok, response: "SIPCredential", handler: s.putSIPCredential},
		{method: "DELETE", path: sipCredentialsPath + "/:username", access: accessAdmin, tag: "callrecd", summary: "delete a SIP listener credential", status: none, handler: s.deleteSIPCredential},
	}
}

type sipCredentialJSON struct {
	TenantUUID string `json:"tenant_uuid"`
	Username   string `json:"username"`
	Endpoint   string `json:"endpoint"`
	Realm      string `json:"realm"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func renderSIPCredential(c store.SIPCredential) sipCredentialJSON {
	return sipCredentialJSON{TenantUUID: c.TenantUUID, Username: c.Username, Endpoint: c.Endpoint, Realm: c.Realm,
		CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt)}
}

func (s *server) listSIPCredentials(c echo.Context) error {
	cs, err := s.store.ListSIPCredentials(c.Request().Context(), getPrincipal(c).tenant)
	if err != nil {
		return err
	}
	out := make([]sipCredentialJSON, len(cs))
	for i, cr := range cs {
		out[i] = renderSIPCredential(cr)
	}
	return renderList(c, out, len(out))
}

func (s *server) putSIPCredential(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	username := c.Param("username")
	if !store.ValidSIPName(username) {
		return errInvalid("username", "1-64 SIP user characters (letters, digits, -_.!~*'()&=+$,;?/)")
	}
	var in struct {
		Password string `json:"password"`
		Endpoint string `json:"endpoint"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Password == "" {
		return errInvalid("password", "is required")
	}
	if in.Endpoint != "" && !store.ValidSIPName(in.Endpoint) {
		return errInvalid("endpoint", "1-64 SIP user characters, the PBX's endpoint name of the phone")
	}
	cr, created, err := s.store.PutSIPCredential(c.Request().Context(),
		store.SIPCredential{TenantUUID: tenant, Username: username, Endpoint: in.Endpoint}, in.Password)
	if errors.Is(err, store.ErrConflict) {
		return newError(http.StatusConflict, "sip-username-taken",
			"another tenant has a SIP credential of this username in the listener's realm", map[string]any{"username": username})
	}
	if err != nil {
		return fromStore("sip credential", err)
	}
	action := "sip_credential.update"
	status := http.StatusOK
	if created {
		action, status = "sip_credential.create", http.StatusCreated
	}
	if err := s.audit(c, tenant, action, "sip_credential", username,
		map[string]any{"endpoint": cr.Endpoint, "realm": cr.Realm}); err != nil {
		return err
	}
	return c.JSON(status, renderSIPCredential(cr))
}

func (s *server) deleteSIPCredential(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	username := c.Param("username")
	if err := s.store.DeleteSIPCredential(c.Request().Context(), tenant, username); err != nil {
		return fromStore("sip credential", err)
	}
	if err := s.audit(c, tenant, "sip_credential.delete", "sip_credential", username, nil); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
