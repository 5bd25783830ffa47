package tests

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// The cases of docs/openapi.yaml's user routes and key API (issue 11),
// added to oaCases. Every case that changes something has a record of its
// own (created by createUsers and createAPIKeys), so the cases may run in
// any order. On the public API, e.admin (a site-wide admin key) may do
// everything and e.read (a site-wide read key) may manage nothing.

func init() {
	for k, c := range oaUserCases {
		if _, dup := oaCases[k]; dup {
			panic("two cases for " + k)
		}
		oaCases[k] = c
	}
}

// createUsers makes the users the cases use, before any key: alice (e.alice
// is her key), bob and carol (the admin API's key cases give keys to them),
// and one user per case that changes or deletes a user.
func (e *oaEnv) createUsers(admin string) {
	e.t.Helper()
	for _, u := range []map[string]any{
		{"name": "alice", "scopes": []string{"/alice/"}},
		{"name": "bob", "scopes": []string{"/bob/"}, "permissions": "sign"},
		{"name": "carol", "scopes": []string{"/carol/"}},
		{"name": "oa-admin-patch", "scopes": []string{"/oa/"}},
		{"name": "oa-admin-delete", "scopes": []string{"/oa/"}},
		{"name": "oa-api-patch", "scopes": []string{"/oa/"}},
		{"name": "oa-api-delete", "scopes": []string{"/oa/"}},
	} {
		createUser(e.t, admin, u)
	}
}

// createAPIKeys makes the keys the key and user API cases use.
func (e *oaEnv) createAPIKeys(admin string) {
	e.t.Helper()
	e.admin = createKey(e.t, admin, map[string]any{"name": "oa admin", "permissions": "admin"})
	e.apiPatchMe = createKey(e.t, admin, map[string]any{"name": "oa api patch me", "permissions": "sign",
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	e.apiDeleteMe = createKey(e.t, admin, map[string]any{"name": "oa api delete me"})
	// Keys that follow their user, deleted with it.
	e.apiGoneKey = createKey(e.t, admin, map[string]any{"name": "oa api gone", "user": "oa-api-delete"})
	e.adminGoneKey = createKey(e.t, admin, map[string]any{"name": "oa admin gone", "user": "oa-admin-delete"})
}

// oaAPI is a request of the key or user API with e.admin's key.
func oaAPI(e *oaEnv, params map[string]string, body any) oaRequest {
	return oaRequest{params: params, token: e.admin.Key, body: body}
}

// oaAPIAs is a request with another key (or none).
func oaAPIAs(token string, params map[string]string, body any) oaRequest {
	return oaRequest{params: params, token: token, body: body}
}

// oaKeyLimited is a request on the site whose API allows one request per
// key and hour, with e.admin's key, after one that spends its allowance.
func oaKeyLimited(e *oaEnv, params map[string]string, body any) oaRequest {
	return oaRequest{params: params, token: e.admin.Key, body: body, base: e.limited, before: func() {
		do(e.t, http.MethodGet, e.limited+"/_signet/v1/keys", e.admin.Key, nil) // 200 the first time, 429 after
	}}
}

func oaName(name string) map[string]string { return map[string]string{"name": name} }

// oaExpectGone: key (its value) no longer authenticates.
func (e *oaEnv) oaExpectGone(what string, k createdKey) {
	e.t.Helper()
	expectStatus(e.t, what, do(e.t, http.MethodGet, e.in.site+"/reports/q1.txt", k.Key, nil), http.StatusUnauthorized, "unauthorized")
}

// oaExpectDeletedKeys: a delete-user response lists k among deleted_keys,
// and k is gone.
func (e *oaEnv) oaExpectDeletedKeys(r response, user string, k createdKey) {
	e.t.Helper()
	var d deletedUser
	if err := json.Unmarshal(r.body, &d); err != nil || d.Deleted.Name != user || !slices.Contains(d.DeletedKeys, k.ID) {
		e.t.Errorf("delete %s: %s, want %s among deleted_keys", user, r.body, k.ID)
	}
	e.oaExpectGone("a key of the deleted user", k)
}

var oaNewUser = map[string]any{"name": "oa-new", "scopes": []string{"/oa/new/"}, "permissions": "sign", "self_service": true}

var oaUserPatch = map[string]any{"scopes": []string{"/oa/patched/"}, "permissions": "sign", "self_service": true}

var oaUserCases = map[string]oaCase{
	// The admin API's users.
	"POST /signet/users 201": {req: func(e *oaEnv) oaRequest { return oaRequest{body: oaNewUser} }},
	"POST /signet/users 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{body: map[string]any{"name": "oa-no-scopes"}}
	}},
	"POST /signet/users 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut} }},
	"POST /signet/users 409": {req: func(e *oaEnv) oaRequest {
		return oaRequest{body: map[string]any{"name": "alice", "scopes": []string{"/alice/"}}}
	}},
	"POST /signet/users 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{body: oaNewUser} }},
	"GET /signet/users 200":  {req: func(e *oaEnv) oaRequest { return oaRequest{} }},
	"GET /signet/users 405":  {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"GET /signet/users 503":  {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{} }},

	"GET /signet/users/{name} 200": {req: func(e *oaEnv) oaRequest { return oaRequest{params: oaName("alice")} }},
	"GET /signet/users/{name} 404": {req: func(e *oaEnv) oaRequest { return oaRequest{params: oaName("nobody")} }},
	"GET /signet/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: oaName("alice")}
	}},
	"GET /signet/users/{name} 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: oaName("alice")} }},
	"PATCH /signet/users/{name} 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaName("oa-admin-patch"), body: oaUserPatch, after: func(r response) {
			var u userRecord
			if err := json.Unmarshal(r.body, &u); err != nil || !slices.Equal(u.Scopes, []string{"/oa/patched/"}) || u.Permissions != "sign" || !u.SelfService {
				e.t.Errorf("patched user: %s", r.body)
			}
		}}
	}},
	"PATCH /signet/users/{name} 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaName("alice"), body: map[string]any{}}
	}},
	"PATCH /signet/users/{name} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaName("nobody"), body: oaUserPatch}
	}},
	"PATCH /signet/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPost, params: oaName("alice")}
	}},
	"PATCH /signet/users/{name} 503": {phase: 1, req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaName("alice"), body: oaUserPatch}
	}},
	"DELETE /signet/users/{name} 200": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: oaName("oa-admin-delete"), after: func(r response) {
			e.oaExpectDeletedKeys(r, "oa-admin-delete", e.adminGoneKey)
		}}
	}},
	"DELETE /signet/users/{name} 404": {req: func(e *oaEnv) oaRequest { return oaRequest{params: oaName("nobody")} }},
	"DELETE /signet/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: oaName("alice")}
	}},
	"DELETE /signet/users/{name} 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: oaName("alice")} }},

	// The public key API.
	"GET /_signet/v1/keys 200": {req: func(e *oaEnv) oaRequest { return oaAPI(e, nil, nil) }},
	"GET /_signet/v1/keys 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", nil, nil) }},
	"GET /_signet/v1/keys 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, nil, nil) }},
	"GET /_signet/v1/keys 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut} }},
	"GET /_signet/v1/keys 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, nil, nil) }},
	"POST /_signet/v1/keys 201": {req: func(e *oaEnv) oaRequest {
		body := map[string]any{"name": "oa api key", "user": "alice", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		req := oaAPI(e, nil, body)
		req.after = func(r response) {
			var k keyRecord
			if err := json.Unmarshal(r.body, &k); err != nil || k.User != "alice" || len(k.Scopes) != 0 ||
				k.Access.Permissions != "read" || !slices.Equal(k.Access.Scopes, []string{"/alice/"}) {
				e.t.Errorf("a key that follows alice: %s", r.body)
				return
			}
			expectStatus(e.t, "the new key reads alice's file", do(e.t, http.MethodGet, e.in.site+"/alice/notes.txt", k.Key, nil), http.StatusOK, "")
		}
		return req
	}},
	"POST /_signet/v1/keys 400": {req: func(e *oaEnv) oaRequest { return oaAPI(e, nil, map[string]any{"name": ""}) }},
	"POST /_signet/v1/keys 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", nil, map[string]any{"name": "x"}) }},
	"POST /_signet/v1/keys 403": {req: func(e *oaEnv) oaRequest {
		return oaAPIAs(e.read.Key, nil, map[string]any{"name": "x", "permissions": "admin"})
	}},
	"POST /_signet/v1/keys 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"POST /_signet/v1/keys 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, nil, map[string]any{"name": "x"}) }},

	"GET /_signet/v1/keys/{id} 200": {req: func(e *oaEnv) oaRequest { return oaAPI(e, e.id(e.read), nil) }},
	"GET /_signet/v1/keys/{id} 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", e.id(e.read), nil) }},
	"GET /_signet/v1/keys/{id} 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, e.id(e.sign), nil) }},
	"GET /_signet/v1/keys/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, map[string]string{"id": e.unknownID}, nil)
	}},
	"GET /_signet/v1/keys/{id} 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut, params: e.id(e.read)} }},
	"GET /_signet/v1/keys/{id} 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, e.id(e.read), nil) }},
	"PATCH /_signet/v1/keys/{id} 200": {req: func(e *oaEnv) oaRequest {
		req := oaAPI(e, e.id(e.apiPatchMe), map[string]any{"name": "oa api patched", "permissions": "none", "expires_at": nil})
		req.after = func(r response) {
			expectStatus(e.t, "the disabled key", do(e.t, http.MethodGet, e.in.site+"/reports/q1.txt", e.apiPatchMe.Key, nil), http.StatusForbidden, "forbidden")
		}
		return req
	}},
	"PATCH /_signet/v1/keys/{id} 400": {req: func(e *oaEnv) oaRequest { return oaAPI(e, e.id(e.read), map[string]any{}) }},
	"PATCH /_signet/v1/keys/{id} 401": {req: func(e *oaEnv) oaRequest {
		return oaAPIAs("", e.id(e.read), map[string]any{"permissions": "admin"})
	}},
	"PATCH /_signet/v1/keys/{id} 403": {req: func(e *oaEnv) oaRequest {
		return oaAPIAs(e.read.Key, e.id(e.read), map[string]any{"permissions": "admin"})
	}},
	"PATCH /_signet/v1/keys/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, map[string]string{"id": e.unknownID}, map[string]any{"name": "x"})
	}},
	"PATCH /_signet/v1/keys/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPost, params: e.id(e.read)}
	}},
	"PATCH /_signet/v1/keys/{id} 429": {req: func(e *oaEnv) oaRequest {
		return oaKeyLimited(e, e.id(e.read), map[string]any{"name": "x"})
	}},
	"DELETE /_signet/v1/keys/{id} 200": {req: func(e *oaEnv) oaRequest {
		req := oaAPI(e, e.id(e.apiDeleteMe), nil)
		req.after = func(response) { e.oaExpectGone("the deleted key", e.apiDeleteMe) }
		return req
	}},
	"DELETE /_signet/v1/keys/{id} 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", e.id(e.read), nil) }},
	"DELETE /_signet/v1/keys/{id} 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, e.id(e.sign), nil) }},
	"DELETE /_signet/v1/keys/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, map[string]string{"id": e.unknownID}, nil)
	}},
	"DELETE /_signet/v1/keys/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: e.id(e.read)}
	}},
	"DELETE /_signet/v1/keys/{id} 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, e.id(e.read), nil) }},

	// The public user API.
	"GET /_signet/v1/users 200": {req: func(e *oaEnv) oaRequest { return oaAPI(e, nil, nil) }},
	"GET /_signet/v1/users 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", nil, nil) }},
	"GET /_signet/v1/users 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, nil, nil) }},
	"GET /_signet/v1/users 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPut} }},
	"GET /_signet/v1/users 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, nil, nil) }},
	"POST /_signet/v1/users 201": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, nil, map[string]any{"name": "oa-api-new", "scopes": []string{"/oa/"}})
	}},
	"POST /_signet/v1/users 400": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, nil, map[string]any{"name": "Not Valid", "scopes": []string{"/oa/"}})
	}},
	"POST /_signet/v1/users 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", nil, oaNewUser) }},
	"POST /_signet/v1/users 403": {req: func(e *oaEnv) oaRequest {
		return oaAPIAs(e.read.Key, nil, map[string]any{"name": "oa-never", "scopes": []string{"/"}, "permissions": "admin"})
	}},
	"POST /_signet/v1/users 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"POST /_signet/v1/users 409": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, nil, map[string]any{"name": "alice", "scopes": []string{"/alice/"}})
	}},
	"POST /_signet/v1/users 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, nil, oaNewUser) }},

	"GET /_signet/v1/users/{name} 200": {req: func(e *oaEnv) oaRequest { return oaAPI(e, oaName("alice"), nil) }},
	"GET /_signet/v1/users/{name} 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", oaName("alice"), nil) }},
	"GET /_signet/v1/users/{name} 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, oaName("alice"), nil) }},
	"GET /_signet/v1/users/{name} 404": {req: func(e *oaEnv) oaRequest { return oaAPI(e, oaName("nobody"), nil) }},
	"GET /_signet/v1/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: oaName("alice")}
	}},
	"GET /_signet/v1/users/{name} 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, oaName("alice"), nil) }},
	"PATCH /_signet/v1/users/{name} 200": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, oaName("oa-api-patch"), oaUserPatch)
	}},
	"PATCH /_signet/v1/users/{name} 400": {req: func(e *oaEnv) oaRequest {
		return oaAPI(e, oaName("alice"), map[string]any{"scopes": []string{"/alice/../bob/"}})
	}},
	"PATCH /_signet/v1/users/{name} 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", oaName("alice"), oaUserPatch) }},
	"PATCH /_signet/v1/users/{name} 403": {req: func(e *oaEnv) oaRequest {
		return oaAPIAs(e.read.Key, oaName("alice"), map[string]any{"permissions": "admin"})
	}},
	"PATCH /_signet/v1/users/{name} 404": {req: func(e *oaEnv) oaRequest { return oaAPI(e, oaName("nobody"), oaUserPatch) }},
	"PATCH /_signet/v1/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPost, params: oaName("alice")}
	}},
	"PATCH /_signet/v1/users/{name} 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, oaName("alice"), oaUserPatch) }},
	"DELETE /_signet/v1/users/{name} 200": {req: func(e *oaEnv) oaRequest {
		req := oaAPI(e, oaName("oa-api-delete"), nil)
		req.after = func(r response) { e.oaExpectDeletedKeys(r, "oa-api-delete", e.apiGoneKey) }
		return req
	}},
	"DELETE /_signet/v1/users/{name} 401": {req: func(e *oaEnv) oaRequest { return oaAPIAs("", oaName("alice"), nil) }},
	"DELETE /_signet/v1/users/{name} 403": {req: func(e *oaEnv) oaRequest { return oaAPIAs(e.read.Key, oaName("alice"), nil) }},
	"DELETE /_signet/v1/users/{name} 404": {req: func(e *oaEnv) oaRequest { return oaAPI(e, oaName("nobody"), nil) }},
	"DELETE /_signet/v1/users/{name} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: oaName("alice")}
	}},
	"DELETE /_signet/v1/users/{name} 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, oaName("alice"), nil) }},
}
