package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// userInput is a POST/PUT body: only the fields sent change. uuid and
// tenant_uuid are accepted (a GET result may be sent back) but must match.
type userInput struct {
	UUID                              *string   `json:"uuid"`
	TenantUUID                        *string   `json:"tenant_uuid"`
	Firstname                         *string   `json:"firstname"`
	Lastname                          *string   `json:"lastname"`
	Email                             *string   `json:"email"`
	Extension                         *string   `json:"extension"`
	Endpoints                         *[]string `json:"endpoints"`
	CallRecordOutgoingInternalEnabled *bool     `json:"call_record_outgoing_internal_enabled"`
	CallRecordOutgoingExternalEnabled *bool     `json:"call_record_outgoing_external_enabled"`
	CallRecordIncomingInternalEnabled *bool     `json:"call_record_incoming_internal_enabled"`
	CallRecordIncomingExternalEnabled *bool     `json:"call_record_incoming_external_enabled"`
	OnlineCallRecordEnabled           *bool     `json:"online_call_record_enabled"`
}

func setStr(dst *string, src *string, field string, max int) error {
	if src == nil {
		return nil
	}
	if err := checkLen(field, *src, max); err != nil {
		return err
	}
	*dst = *src
	return nil
}

func setBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}

func (in userInput) apply(u *store.User) error {
	if in.UUID != nil && *in.UUID != u.UUID {
		return errInvalid("uuid", "read-only; does not match")
	}
	if in.TenantUUID != nil && *in.TenantUUID != u.TenantUUID {
		return errInvalid("tenant_uuid", "read-only; does not match")
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
		max   int
	}{{&u.Firstname, in.Firstname, "firstname", 128}, {&u.Lastname, in.Lastname, "lastname", 128},
		{&u.Email, in.Email, "email", 254}, {&u.Extension, in.Extension, "extension", 40}} {
		if err := setStr(f.dst, f.src, f.field, f.max); err != nil {
			return err
		}
	}
	if in.Extension != nil && *in.Extension != "" && !reExten.MatchString(*in.Extension) {
		return errInvalid("extension", "digits, * and # only, 1 to 20")
	}
	if in.Endpoints != nil {
		if len(*in.Endpoints) > 64 {
			return errInvalid("endpoints", "at most 64")
		}
		seen := map[string]bool{}
		for _, ep := range *in.Endpoints {
			if ep == "" || len(ep) > 128 || seen[ep] {
				return errInvalid("endpoints", "each must be non-empty, unique and at most 128 bytes")
			}
			if err := checkLen("endpoints", ep, 128); err != nil {
				return err
			}
			seen[ep] = true
		}
		u.Endpoints = append([]string{}, *in.Endpoints...)
	}
	setBool(&u.CallRecordOutgoingInternalEnabled, in.CallRecordOutgoingInternalEnabled)
	setBool(&u.CallRecordOutgoingExternalEnabled, in.CallRecordOutgoingExternalEnabled)
	setBool(&u.CallRecordIncomingInternalEnabled, in.CallRecordIncomingInternalEnabled)
	setBool(&u.CallRecordIncomingExternalEnabled, in.CallRecordIncomingExternalEnabled)
	setBool(&u.OnlineCallRecordEnabled, in.OnlineCallRecordEnabled)
	return nil
}

func (s *server) listUsers(c echo.Context) error {
	page, err := parsePage(c, defaultLimit)
	if err != nil {
		return err
	}
	search := c.QueryParam("search")
	if err := checkLen("search", search, 128); err != nil {
		return err
	}
	users, total, err := s.store.ListUsers(c.Request().Context(), store.UserFilter{Tenant: getPrincipal(c).tenant,
		Search: search, Page: page})
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = s.renderUser(u)
	}
	return renderList(c, out, total)
}

func (s *server) createUser(c echo.Context) error {
	tenant, err := getPrincipal(c).needTenant()
	if err != nil {
		return err
	}
	var in userInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u := store.User{UUID: uuid.NewString(), TenantUUID: tenant, RecordAudio: true, Endpoints: []string{}}
	if in.UUID != nil {
		id, err := parseUUID("uuid", *in.UUID)
		if err != nil {
			return err
		}
		u.UUID, in.UUID = id, &id
	}
	if err := in.apply(&u); err != nil {
		return err
	}
	created, err := s.store.CreateUser(c.Request().Context(), u)
	if err != nil {
		return fromStore("user", err)
	}
	if err := s.audit(c, tenant, "user.create", "user", created.UUID, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.renderUser(created))
}

func (s *server) loadUser(c echo.Context) (store.User, error) {
	id, err := pathUUID(c, "user_uuid")
	if err != nil {
		return store.User{}, err
	}
	u, err := s.store.GetUser(c.Request().Context(), getPrincipal(c).tenant, id)
	return u, fromStore("user", err)
}

func (s *server) getUser(c echo.Context) error {
	u, err := s.loadUser(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.renderUser(u))
}

func (s *server) putUser(c echo.Context) error {
	u, err := s.loadUser(c)
	if err != nil {
		return err
	}
	var in userInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := in.apply(&u); err != nil {
		return err
	}
	if _, err := s.store.UpdateUser(c.Request().Context(), u); err != nil {
		return fromStore("user", err)
	}
	if err := s.audit(c, u.TenantUUID, "user.update", "user", u.UUID, nil); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// featureJSON is a confd feature extension.
type featureJSON struct {
	ID         int64  `json:"id"`
	TenantUUID string `json:"tenant_uuid"`
	Exten      string `json:"exten"`
	Context    string `json:"context"`
	Feature    string `json:"feature"`
	Enabled    bool   `json:"enabled"`
}

func renderFeature(f store.FeatureExtension) featureJSON {
	return featureJSON{ID: f.ID, TenantUUID: f.TenantUUID, Exten: f.Exten, Context: "xivo-features",
		Feature: f.Feature, Enabled: f.Enabled}
}

func (s *server) listFeatures(c echo.Context) error {
	feature := c.QueryParam("feature")
	if feature != "" && !recording.Feature(feature).Valid() {
		return errInvalid("feature", "unknown feature")
	}
	fs, err := s.store.ListFeatureExtensions(c.Request().Context(), getPrincipal(c).tenant, feature)
	if err != nil {
		return err
	}
	out := make([]featureJSON, len(fs))
	for i, f := range fs {
		out[i] = renderFeature(f)
	}
	return renderList(c, out, len(out))
}

func (s *server) loadFeature(c echo.Context) (store.FeatureExtension, error) {
	id, err := pathID(c, "feature_id")
	if err != nil {
		return store.FeatureExtension{}, err
	}
	f, err := s.store.GetFeatureExtension(c.Request().Context(), getPrincipal(c).tenant, id)
	return f, fromStore("feature extension", err)
}

func (s *server) getFeature(c echo.Context) error {
	f, err := s.loadFeature(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, renderFeature(f))
}

func (s *server) putFeature(c echo.Context) error {
	f, err := s.loadFeature(c)
	if err != nil {
		return err
	}
	var in struct {
		Exten   *string `json:"exten"`
		Enabled *bool   `json:"enabled"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Exten != nil {
		if !reExten.MatchString(*in.Exten) {
			return errInvalid("exten", "digits, * and # only, 1 to 20")
		}
		f.Exten = *in.Exten
	}
	setBool(&f.Enabled, in.Enabled)
	if _, err := s.store.UpdateFeatureExtension(c.Request().Context(), f); err != nil {
		return fromStore("feature extension", err)
	}
	if err := s.audit(c, f.TenantUUID, "feature.update", "feature_extension", strconv.FormatInt(f.ID, 10),
		map[string]any{"exten": f.Exten, "enabled": f.Enabled}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// groupJSON is a confd group or queue, with its member users.
type groupJSON struct {
	UUID             string       `json:"uuid"`
	TenantUUID       string       `json:"tenant_uuid"`
	Name             string       `json:"name"`
	Label            string       `json:"label"`
	DTMFRecordToggle bool         `json:"dtmf_record_toggle"`
	Members          groupMembers `json:"members"`
}

type groupMembers struct {
	Users []memberRef `json:"users"`
}

type memberRef struct {
	UUID string `json:"uuid"`
}

func renderGroup(g store.Group) groupJSON {
	out := groupJSON{UUID: g.UUID, TenantUUID: g.TenantUUID, Name: g.Name, Label: g.Label,
		DTMFRecordToggle: g.DTMFRecordToggle, Members: groupMembers{Users: []memberRef{}}}
	for _, m := range g.Members {
		out.Members.Users = append(out.Members.Users, memberRef{UUID: m})
	}
	return out
}

type groupInput struct {
	UUID             *string       `json:"uuid"`
	TenantUUID       *string       `json:"tenant_uuid"`
	Name             *string       `json:"name"`
	Label            *string       `json:"label"`
	DTMFRecordToggle *bool         `json:"dtmf_record_toggle"`
	Members          *groupMembers `json:"members"`
}

func (in groupInput) apply(g *store.Group) error {
	if in.UUID != nil && *in.UUID != g.UUID {
		return errInvalid("uuid", "read-only; does not match")
	}
	if in.TenantUUID != nil && *in.TenantUUID != g.TenantUUID {
		return errInvalid("tenant_uuid", "read-only; does not match")
	}
	if in.Name != nil {
		if !reName.MatchString(*in.Name) {
			return errInvalid("name", "letters, digits, - _ . only, 1 to 128")
		}
		g.Name = *in.Name
	}
	if err := setStr(&g.Label, in.Label, "label", 128); err != nil {
		return err
	}
	setBool(&g.DTMFRecordToggle, in.DTMFRecordToggle)
	if in.Members != nil {
		if len(in.Members.Users) > 1000 {
			return errInvalid("members", "at most 1000 users")
		}
		g.Members = []string{}
		for _, m := range in.Members.Users {
			id, err := parseUUID("members", m.UUID)
			if err != nil {
				return err
			}
			g.Members = append(g.Members, id)
		}
	}
	return nil
}

func (s *server) listGroups(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		page, err := parsePage(c, defaultLimit)
		if err != nil {
			return err
		}
		gs, total, err := s.store.ListGroups(c.Request().Context(), getPrincipal(c).tenant, kind, page)
		if err != nil {
			return err
		}
		out := make([]groupJSON, len(gs))
		for i, g := range gs {
			out[i] = renderGroup(g)
		}
		return renderList(c, out, total)
	}
}

func (s *server) createGroup(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		tenant, err := getPrincipal(c).needTenant()
		if err != nil {
			return err
		}
		var in groupInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		g := store.Group{UUID: uuid.NewString(), TenantUUID: tenant, Kind: kind, Members: []string{}}
		if in.UUID != nil {
			id, err := parseUUID("uuid", *in.UUID)
			if err != nil {
				return err
			}
			g.UUID, in.UUID = id, &id
		}
		if in.Name == nil {
			return errInvalid("name", "required")
		}
		if err := in.apply(&g); err != nil {
			return err
		}
		created, err := s.store.CreateGroup(c.Request().Context(), g)
		if err != nil {
			return fromStore(kind, err)
		}
		if err := s.audit(c, tenant, kind+".create", kind, created.UUID, nil); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, renderGroup(created))
	}
}

func (s *server) loadGroup(c echo.Context, kind string) (store.Group, error) {
	id, err := pathUUID(c, kind+"_uuid")
	if err != nil {
		return store.Group{}, err
	}
	g, err := s.store.GetGroup(c.Request().Context(), getPrincipal(c).tenant, kind, id)
	return g, fromStore(kind, err)
}

func (s *server) getGroup(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		g, err := s.loadGroup(c, kind)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, renderGroup(g))
	}
}

func (s *server) putGroup(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		g, err := s.loadGroup(c, kind)
		if err != nil {
			return err
		}
		var in groupInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		if err := in.apply(&g); err != nil {
			return err
		}
		if _, err := s.store.UpdateGroup(c.Request().Context(), g); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return ae
			}
			return fromStore(kind, err)
		}
		if err := s.audit(c, g.TenantUUID, kind+".update", kind, g.UUID,
			map[string]any{"dtmf_record_toggle": g.DTMFRecordToggle}); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}
