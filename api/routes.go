package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// route is one endpoint: registered on echo and described in the OpenAPI
// document from the same table, so the two cannot drift apart.
type route struct {
	method, path string
	access       access
	tokenInQuery bool // ?token= is accepted (links in e-mails, <audio src>)
	// tenantInQuery: ?tenant= stands for Wazo-Tenant, as on Wazo's
	// call-logd routes that read ?token=.
	tenantInQuery bool
	tag, summary  string
	query         []string // query parameters
	body          string   // request body schema ("" = none)
	status        int      // success status
	response      string   // response schema ("" = none / free-form)
	produces      string   // response media type; "" = application/json
	handler       echo.HandlerFunc
}

const (
	confd    = "/api/confd/1.1"
	calld    = "/api/calld/1.0"
	callLogd = "/api/call-logd/1.0"
	own      = "/api/callrecd/1.0"
)

var cdrQuery = []string{"from", "until", "direction", "call_direction", "order", "limit", "offset", "search",
	"number", "tags", "user_uuid", "from_id", "recurse", "recorded", "format", "distinct", "call_status",
	"conversation_id", "tenant"}

func (s *server) routeTable() []route {
	ok, created, none := http.StatusOK, http.StatusCreated, http.StatusNoContent
	rec := func(prefix string, acc access, verb string, h func(action) echo.HandlerFunc) route {
		return route{method: http.MethodPut, path: prefix + "/calls/:call_id/record/" + verb, access: acc,
			tag: "calld", summary: verb + " recording the call", status: none, handler: h(action(verb))}
	}
	rt := []route{
		{method: "GET", path: "/healthz", access: accessPublic, tag: "health", summary: "liveness", status: ok, handler: s.healthz},
		{method: "GET", path: "/readyz", access: accessPublic, tag: "health", summary: "readiness: database and PBX link", status: ok, handler: s.readyz},
		{method: "GET", path: "/metrics", access: accessSystem, tag: "health", summary: "Prometheus metrics", status: ok, produces: "text/plain", handler: s.metricsHandler()},
		{method: "GET", path: "/api/openapi.json", access: accessPublic, tag: "health", summary: "this document", status: ok, handler: s.openapi},

		{method: "GET", path: confd + "/users", access: accessAdmin, tag: "confd", summary: "list users", query: []string{"search", "limit", "offset"}, status: ok, response: "UserList", handler: s.listUsers},
		{method: "POST", path: confd + "/users", access: accessAdmin, tag: "confd", summary: "create a user", body: "User", status: created, response: "User", handler: s.createUser},
		{method: "GET", path: confd + "/users/:user_uuid", access: accessAdmin, tag: "confd", summary: "get a user's recording settings", status: ok, response: "User", handler: s.getUser},
		{method: "PUT", path: confd + "/users/:user_uuid", access: accessAdmin, tag: "confd", summary: "update a user (fields sent only)", body: "User", status: none, handler: s.putUser},
		{method: "GET", path: confd + "/extensions/features", access: accessAdmin, tag: "confd", summary: "list feature extensions", query: []string{"feature"}, status: ok, response: "FeatureList", handler: s.listFeatures},
		{method: "GET", path: confd + "/extensions/features/:feature_id", access: accessAdmin, tag: "confd", summary: "get a feature extension", status: ok, response: "Feature", handler: s.getFeature},
		{method: "PUT", path: confd + "/extensions/features/:feature_id", access: accessAdmin, tag: "confd", summary: "enable/disable a feature extension or change its code", body: "Feature", status: none, handler: s.putFeature},
	}
	for _, kind := range []string{"group", "queue"} {
		p := confd + "/" + kind + "s"
		rt = append(rt,
			route{method: "GET", path: p, access: accessAdmin, tag: "confd", summary: "list " + kind + "s", query: []string{"limit", "offset"}, status: ok, response: "GroupList", handler: s.listGroups(kind)},
			route{method: "POST", path: p, access: accessAdmin, tag: "confd", summary: "create a " + kind, body: "Group", status: created, response: "Group", handler: s.createGroup(kind)},
			route{method: "GET", path: p + "/:" + kind + "_uuid", access: accessAdmin, tag: "confd", summary: "get a " + kind, status: ok, response: "Group", handler: s.getGroup(kind)},
			route{method: "PUT", path: p + "/:" + kind + "_uuid", access: accessAdmin, tag: "confd", summary: "update a " + kind + " (dtmf_record_toggle, …)", body: "Group", status: none, handler: s.putGroup(kind)},
		)
	}
	rt = append(rt,
		route{method: "GET", path: calld + "/calls", access: accessAdmin, tag: "calld", summary: "live calls with their record state", status: ok, response: "CallList", handler: s.listCalls(false)},
		route{method: "GET", path: calld + "/users/me/calls", access: accessUser, tag: "calld", summary: "the user's live calls", status: ok, response: "CallList", handler: s.listCalls(true)},
	)
	for _, verb := range []string{"start", "stop", "pause", "resume"} {
		rt = append(rt,
			rec(calld, accessAdmin, verb, func(a action) echo.HandlerFunc { return s.record(a, false) }),
			rec(calld+"/users/me", accessUser, verb, func(a action) echo.HandlerFunc { return s.record(a, true) }),
			// The seed's literal form: /api/calld/user/me/calls/{call_id}/record/...
			rec("/api/calld/user/me", accessUser, verb, func(a action) echo.HandlerFunc { return s.record(a, true) }),
		)
	}
	media := "/recordings/:recording_uuid/media"
	rt = append(rt,
		route{method: "GET", path: callLogd + "/cdr", access: accessAdmin, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "call history", query: cdrQuery, status: ok, response: "CDRList", produces: "application/json, text/csv", handler: s.listCDR(cdrAll)},
		route{method: "GET", path: callLogd + "/cdr/:cdr_id", access: accessAdmin, tag: "call-logd", summary: "one call", query: []string{"format"}, status: ok, response: "CDR", produces: "application/json, text/csv", handler: s.getCDR},
		route{method: "GET", path: callLogd + "/users/me/cdr", access: accessUser, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "the user's call history", query: cdrQuery, status: ok, response: "CDRList", produces: "application/json, text/csv", handler: s.listCDR(cdrMe)},
		route{method: "GET", path: callLogd + "/users/:user_uuid/cdr", access: accessAdmin, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "a user's call history", query: cdrQuery, status: ok, response: "CDRList", produces: "application/json, text/csv", handler: s.listCDR(cdrOfUser)},
		route{method: "GET", path: callLogd + "/cdr/:cdr_id" + media, access: accessAdmin, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "download or listen to a recording (Range, ETag)", query: []string{"tenant", "disposition"}, status: ok, produces: "audio/wav, audio/mpeg, audio/amr", handler: s.media(false)},
		route{method: "DELETE", path: callLogd + "/cdr/:cdr_id" + media, access: accessAdmin, tag: "call-logd", summary: "delete a recording's file (marks it deleted)", status: none, handler: s.deleteMedia},
		route{method: "GET", path: callLogd + "/users/me/cdr/:cdr_id" + media, access: accessUser, tokenInQuery: true, tenantInQuery: true, tag: "call-logd", summary: "download one of the user's recordings", query: []string{"tenant", "disposition"}, status: ok, produces: "audio/wav, audio/mpeg, audio/amr", handler: s.media(true)},
		route{method: "DELETE", path: callLogd + "/cdr/recordings/media", access: accessAdmin, tag: "call-logd", summary: "delete every recording of these calls", body: "CDRIDs", status: none, handler: s.deleteMediaBulk},
		route{method: "GET", path: callLogd + "/retention", access: accessAdmin, tag: "call-logd", summary: "the tenant's retention", status: ok, response: "Retention", handler: s.getRetention},
		route{method: "PUT", path: callLogd + "/retention", access: accessAdmin, tag: "call-logd", summary: "replace the tenant's retention (null = forever)", body: "Retention", status: none, handler: s.putRetention},

		route{method: "GET", path: own + "/tenants", access: accessAdmin, tag: "callrecd", summary: "tenants and their recording settings", status: ok, response: "TenantList", handler: s.listTenants},
		route{method: "POST", path: own + "/tenants", access: accessSystem, tag: "callrecd", summary: "create a tenant", body: "Tenant", status: created, response: "Tenant", handler: s.createTenant},
		route{method: "GET", path: own + "/tenants/:tenant_uuid", access: accessAdmin, tag: "callrecd", summary: "a tenant's recording settings", status: ok, response: "Tenant", handler: s.getTenant},
		route{method: "PUT", path: own + "/tenants/:tenant_uuid", access: accessAdmin, tag: "callrecd", summary: "update a tenant's settings (fields sent only)", body: "Tenant", status: ok, response: "Tenant", handler: s.putTenant},
		route{method: "GET", path: own + "/tokens", access: accessAdmin, tag: "callrecd", summary: "API tokens (never their secret)", status: ok, response: "TokenList", handler: s.listTokens},
		route{method: "POST", path: own + "/tokens", access: accessAdmin, tag: "callrecd", summary: "create a token; its secret is shown once", body: "TokenCreate", status: created, response: "Token", handler: s.createToken},
		route{method: "DELETE", path: own + "/tokens/:token_id", access: accessAdmin, tag: "callrecd", summary: "revoke a token", status: none, handler: s.revokeToken},
		route{method: "GET", path: own + "/audit", access: accessAdmin, tag: "callrecd", summary: "the audit log", query: []string{"since", "limit", "offset"}, status: ok, response: "AuditList", handler: s.listAudit},
	)
	rt = append(rt, s.exportRoutes()...)
	rt = append(rt, s.webMediaRoutes()...)
	rt = append(rt, s.sipCredentialRoutes()...)
	rt = append(rt, s.sessionRoutes()...)
	return rt
}
