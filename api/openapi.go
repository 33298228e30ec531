package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/callrecd/callrecd/recording"
	"github.com/labstack/echo/v4"
)

// openAPIPath turns echo's /cdr/:cdr_id into OpenAPI's /cdr/{cdr_id}.
func openAPIPath(p string) (string, []string) {
	var params []string
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") {
			params = append(params, part[1:])
			parts[i] = "{" + part[1:] + "}"
		}
	}
	return strings.Join(parts, "/"), params
}

var intParams = map[string]bool{"cdr_id": true, "feature_id": true, "limit": true, "offset": true, "from_id": true}

// enum lists a vocabulary's values for a schema.
func enum[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// openAPIDoc builds the OpenAPI 3 document from the route table.
func openAPIDoc(routes []route) map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range routes {
		p, pathParams := openAPIPath(r.path)
		var params []map[string]any
		for _, name := range pathParams {
			typ := "string"
			if intParams[name] {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": name, "in": "path", "required": true,
				"schema": map[string]any{"type": typ}})
		}
		for _, name := range r.query {
			typ := "string"
			if intParams[name] {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": typ}})
		}
		op := map[string]any{
			"operationId": strings.ToLower(r.method) + strings.NewReplacer("/", "_", ":", "", "{", "", "}", "", ".", "_", "-", "_").Replace(r.path),
			"summary":     r.summary,
			"tags":        []string{r.tag},
		}
		okResp := map[string]any{"description": http.StatusText(r.status)}
		if r.response != "" || r.produces != "" {
			content := map[string]any{}
			types := strings.Split(r.produces, ", ")
			if r.produces == "" {
				types = []string{"application/json"}
			}
			for _, t := range types {
				schema := map[string]any{"type": "string", "format": "binary"}
				if t == "application/json" {
					schema = map[string]any{"type": "object"}
					if r.response != "" {
						schema = ref(r.response)
					}
				} else if t == "text/plain" || t == "text/csv" {
					schema = map[string]any{"type": "string"}
				}
				content[t] = map[string]any{"schema": schema}
			}
			okResp["content"] = content
		}
		responses := map[string]any{itoa(r.status): okResp,
			"default": map[string]any{"description": "error", "content": map[string]any{
				"application/json": map[string]any{"schema": ref("Error")}}}}
		op["responses"] = responses
		switch r.access {
		case accessPublic:
			op["security"] = []any{}
		case accessSession:
			op["x-callrecd-access"] = r.access.String()
			op["security"] = []any{map[string]any{"session": []string{}}}
		default:
			params = append(params, map[string]any{"name": headerTenant, "in": "header",
				"description": "tenant to act on (system tokens)", "schema": map[string]any{"type": "string", "format": "uuid"}})
			op["x-callrecd-access"] = r.access.String()
			if r.tokenInQuery {
				op["security"] = []any{map[string]any{"token": []string{}}, map[string]any{"token_query": []string{}},
					map[string]any{"session": []string{}}}
			}
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": ref(r.body)}}}
		}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.method)] = op
	}
	obj := func(props map[string]any) map[string]any {
		return map[string]any{"type": "object", "properties": props}
	}
	str, boolean, integer := map[string]any{"type": "string"}, map[string]any{"type": "boolean"}, map[string]any{"type": "integer"}
	nstr := map[string]any{"type": "string", "nullable": true}
	nint := map[string]any{"type": "integer", "nullable": true}
	listOf := func(item string) map[string]any {
		return obj(map[string]any{"items": map[string]any{"type": "array", "items": ref(item)}, "total": integer})
	}
	schemas := map[string]any{
		"Error": obj(map[string]any{"message": str, "error_id": str, "details": map[string]any{"type": "object"},
			"timestamp": map[string]any{"type": "number"}}),
		"User": obj(map[string]any{"uuid": str, "tenant_uuid": str, "firstname": str, "lastname": str, "email": str,
			"extension": str, "endpoints": map[string]any{"type": "array", "items": str},
			"call_record_outgoing_internal_enabled": boolean, "call_record_outgoing_external_enabled": boolean,
			"call_record_incoming_internal_enabled": boolean, "call_record_incoming_external_enabled": boolean,
			"online_call_record_enabled": boolean}),
		"UserList":    listOf("User"),
		"Feature":     obj(map[string]any{"id": integer, "tenant_uuid": str, "exten": str, "context": str, "feature": str, "enabled": boolean}),
		"FeatureList": listOf("Feature"),
		"Group": obj(map[string]any{"uuid": str, "tenant_uuid": str, "name": str, "label": str, "dtmf_record_toggle": boolean,
			"members": obj(map[string]any{"users": map[string]any{"type": "array", "items": obj(map[string]any{"uuid": str})}})}),
		"GroupList": listOf("Group"),
		"Call": obj(map[string]any{"call_id": str, "conversation_id": str, "cdr_id": nint, "tenant_uuid": str, "user_uuid": nstr,
			"caller_id_number": str, "caller_id_name": str, "peer_caller_id_number": str, "peer_caller_id_name": str,
			"status": str, "direction": str, "is_external": boolean, "creation_time": str, "answer_time": nstr,
			"record_state": map[string]any{"type": "string", "enum": []string{"active", "paused", "inactive"}},
			"recordings":   map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}),
		"CallList":  listOf("Call"),
		"Recording": obj(map[string]any{"uuid": str, "start_time": str, "end_time": nstr, "deleted": boolean, "filename": str}),
		"CDR": obj(map[string]any{"id": integer, "tenant_uuid": str, "start": str, "end": nstr, "answered": boolean,
			"answer": nstr, "duration": nint, "call_direction": str, "destination_extension": str,
			"destination_internal_context": nstr, "destination_internal_extension": nstr, "destination_line_id": nint,
			"destination_name": str, "destination_user_uuid": nstr, "requested_name": str, "requested_context": str,
			"requested_extension": str, "requested_internal_context": nstr, "requested_internal_extension": nstr,
			"source_extension": str, "source_internal_context": nstr, "source_internal_extension": nstr,
			"source_line_id": nint, "source_name": str, "source_user_uuid": nstr,
			"tags":       map[string]any{"type": "array", "items": str},
			"recordings": map[string]any{"type": "array", "items": ref("Recording")}}),
		"CDRList":   obj(map[string]any{"items": map[string]any{"type": "array", "items": ref("CDR")}, "total": integer, "filtered": integer}),
		"CDRIDs":    obj(map[string]any{"cdr_ids": map[string]any{"type": "array", "items": integer}}),
		"Retention": obj(map[string]any{"tenant_uuid": str, "cdr_days": nint, "recording_days": nint, "export_days": nint}),
		"Tenant": obj(map[string]any{"uuid": str, "name": str, "audio_recording_enabled": boolean,
			"video_recording_enabled": boolean, "record_external_to_external": boolean,
			"format":             map[string]any{"type": "string", "enum": enum(recording.Formats())},
			"online_record_mode": map[string]any{"type": "string", "enum": enum(recording.OnlineRecordModes())},
			"announce_recording": boolean, "dtmf_timeout_ms": integer,
			"retention": obj(map[string]any{"cdr_days": nint, "recording_days": nint, "export_days": nint}),
			"timezone":  str, "created_at": str, "updated_at": str}),
		"TenantList": listOf("Tenant"),
		"TokenCreate": obj(map[string]any{"role": map[string]any{"type": "string", "enum": []string{"system", "admin", "user"}},
			"user_uuid": nstr, "description": str}),
		"Token": obj(map[string]any{"id": str, "role": str, "tenant_uuid": nstr, "user_uuid": nstr, "description": str,
			"created_at": str, "last_used_at": nstr, "revoked_at": nstr, "token": map[string]any{"type": "string",
				"description": "the secret; only in the creation answer"}}),
		"TokenList": listOf("Token"),
		"Audit": obj(map[string]any{"id": integer, "at": str, "tenant_uuid": nstr, "actor": str, "action": str,
			"object_type": str, "object_id": str, "remote_addr": str, "details": map[string]any{"type": "object"}}),
		"AuditList": listOf("Audit"),
		"SIPCredentialPut": obj(map[string]any{"password": str, "endpoint": map[string]any{"type": "string",
			"description": "the PBX endpoint of the user's phone; default: the username"}}),
		"SIPCredential": obj(map[string]any{"tenant_uuid": str, "username": str, "endpoint": str, "realm": str,
			"created_at": str, "updated_at": str}),
		"SIPCredentialList": listOf("SIPCredential"),
		"Waveform": obj(map[string]any{"duration": map[string]any{"type": "number", "description": "seconds"},
			"peaks": map[string]any{"type": "array", "items": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
				"description": "largest |sample| of each equal slice of the file, full scale = 1"},
			"paused": map[string]any{"type": "array", "description": "paused spans in seconds from the file's start; start = end where the paused audio was left out",
				"items": obj(map[string]any{"start": map[string]any{"type": "number"}, "end": map[string]any{"type": "number"}})}}),
		"Dashboard": obj(map[string]any{
			"recordings_per_day": map[string]any{"type": "array", "description": "the last 30 UTC days, oldest first, today last",
				"items": obj(map[string]any{"day": map[string]any{"type": "string", "format": "date"}, "count": integer,
					"seconds": map[string]any{"type": "number"}})},
			"storage": obj(map[string]any{"used_bytes": integer, "free_bytes": integer, "min_free_bytes": integer}),
			"pbx":     obj(map[string]any{"linked": boolean, "error": str})}),
		"SessionCreate": obj(map[string]any{"username": str, "password": str, "token": map[string]any{"type": "string",
			"description": "an API token, instead of username and password"}}),
		"Session": obj(map[string]any{"username": map[string]any{"type": "string", "description": "the account, or token:<id>"},
			"role": map[string]any{"type": "string", "enum": []string{"system", "admin", "user"}}, "tenant_uuid": nstr,
			"user_uuid": nstr, "csrf_token": map[string]any{"type": "string",
				"description": "send it in X-CSRF-Token with every request but GET, HEAD and OPTIONS"},
			"expires_at": str}),
	}
	tags := map[string]bool{}
	for _, r := range routes {
		tags[r.tag] = true
	}
	var tagList []map[string]any
	for t := range tags {
		tagList = append(tagList, map[string]any{"name": t})
	}
	sort.Slice(tagList, func(i, j int) bool { return tagList[i]["name"].(string) < tagList[j]["name"].(string) })
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "callrecd", "version": "1.0",
			"description": "Call recording sidecar: Wazo-compatible settings (confd 1.1), call control (calld 1.0) and history (call-logd 1.0)."},
		"paths": paths,
		"tags":  tagList,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"token":       map[string]any{"type": "apiKey", "in": "header", "name": headerToken},
				"token_query": map[string]any{"type": "apiKey", "in": "query", "name": "token"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
					"description": "set by POST " + sessionPath + "; state changes also need X-CSRF-Token"},
			},
		},
		"security": []any{map[string]any{"token": []string{}}, map[string]any{"session": []string{}}},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *server) openapi(c echo.Context) error {
	return c.JSON(http.StatusOK, openAPIDoc(s.routes))
}
