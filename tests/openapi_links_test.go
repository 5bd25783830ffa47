package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
)

// The cases of docs/openapi.yaml's links API (the ledger: public and admin
// routes) and of the link policies on GET /{path}, added to oaCases. Every
// case that changes a link signs a link of its own, and the bulk
// revocations revoke only the links of keys made for them, so the cases may
// run in any order and leave the links other cases use alone.

func init() {
	for k, c := range oaLinkCases {
		if _, dup := oaCases[k]; dup {
			panic("two cases for " + k)
		}
		oaCases[k] = c
	}
	// GET /{path}: a link's response headers on a 200, and the refusals of
	// its policies among the documented 403s.
	oaAlsoAfter("GET /{path} 200", (*oaEnv).checkPolicyHeaders)
	oaAlsoAfter("GET /{path} 403", (*oaEnv).checkPolicyRefusals)
}

// oaAlsoAfter runs extra after the checks of the existing case key.
func oaAlsoAfter(key string, extra func(*oaEnv)) {
	c, ok := oaCases[key]
	if !ok {
		panic("no case " + key)
	}
	req := c.req
	c.req = func(e *oaEnv) oaRequest {
		r := req(e)
		after := r.after
		r.after = func(resp response) {
			if after != nil {
				after(resp)
			}
			extra(e)
		}
		return r
	}
	oaCases[key] = c
}

// oaLinkPolicy is the policy the cases sign their links with.
var oaLinkPolicy = map[string]any{"expires_in": 600, "download_name": "Q1 2026.txt", "max_uses": 3}

// signLink signs /reports/q1.txt on the main site with token and body.
func (e *oaEnv) signLink(token string, body map[string]any) signed {
	e.t.Helper()
	resp := do(e.t, http.MethodPost, e.in.site+"/_signet/v1/files/reports/q1.txt/signed-url", token, body)
	expectStatus(e.t, "sign a link", resp, http.StatusOK, "")
	return decodeAs[signed](e.t, "sign a link", resp)
}

// adminSignLink signs /reports/q1.txt as the operator, with body's fields.
func (e *oaEnv) adminSignLink(body map[string]any) signed {
	e.t.Helper()
	req := map[string]any{"path": "/reports/q1.txt", "expires_in": 600, "base_url": e.in.site}
	for k, v := range body {
		req[k] = v
	}
	resp := do(e.t, http.MethodPost, e.servers[oaAdminServer]+"/signet/sign", "", req)
	expectStatus(e.t, "sign a link as the operator", resp, http.StatusOK, "")
	return decodeAs[signed](e.t, "sign a link as the operator", resp)
}

// linkID is the path parameter for s.
func linkID(s signed) map[string]string { return map[string]string{"id": s.ID} }

// expectLink: r is the link s, as the links API shows it.
func (e *oaEnv) expectLink(r response, s signed) ledgerLink {
	e.t.Helper()
	l := decodeAs[ledgerLink](e.t, "link", r)
	if l.ID != s.ID || l.Path != s.Path || l.Folder != s.Folder {
		e.t.Errorf("link %s, want the link %s for %s", r.body, s.ID, s.Path)
	}
	return l
}

// expectURL: a GET of s's URL gets status (and code, for refusals).
func (e *oaEnv) expectURL(what string, s signed, status int, code string) {
	e.t.Helper()
	expectStatus(e.t, what, do(e.t, http.MethodGet, s.URL, "", nil), status, code)
}

// listHas: r is a page of links that holds the link id.
func (e *oaEnv) listHas(r response, id string) []ledgerLink {
	e.t.Helper()
	var page struct {
		Links []ledgerLink `json:"links"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		e.t.Fatalf("list of links %s: %v", r.body, err)
	}
	for _, l := range page.Links {
		if l.ID == id {
			return page.Links
		}
	}
	e.t.Errorf("the list lacks the link %s: %s", id, r.body)
	return page.Links
}

// onRedis runs an instance of its own on a Redis of its own, with a key
// that may sign, for the 503s of a store that stops answering.
func (e *oaEnv) onRedis() (*instance, createdKey, func()) {
	e.t.Helper()
	srv := redistest.Start(e.t)
	in := newInstanceWith(e.t, e.t.TempDir(), "store redis "+srv.URL())
	in.start()
	k := createKey(e.t, "http://"+in.admin, map[string]any{"name": "oa on redis", "permissions": "sign"})
	return in, k, srv.Stop
}

// checkPolicyHeaders: a link's download name and content type replace the
// origin's headers on its 200, as documented.
func (e *oaEnv) checkPolicyHeaders() {
	e.t.Helper()
	s := e.signLink(e.sign.Key, map[string]any{"expires_in": 600, "download_name": "Résumé \"final\"; 100%.txt", "content_type": "text/markdown; charset=utf-8"})
	resp := do(e.t, http.MethodGet, s.URL, "", nil)
	expectStatus(e.t, "GET a link with response headers", resp, http.StatusOK, "")
	cd := resp.header.Get("Content-Disposition")
	if cd != `attachment; filename="R_sum_ \"final\"; 100_.txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%3B%20100%25.txt` {
		e.t.Errorf("Content-Disposition %q", cd)
	}
	e.checkHeader("/{path}", http.MethodGet, "200", "Content-Disposition", cd)
	e.checkHeader("/{path}", http.MethodGet, "200", "X-Content-Type-Options", resp.header.Get("X-Content-Type-Options"))
	if ct := resp.header.Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
		e.t.Errorf("Content-Type %q", ct)
	}
	inline := e.signLink(e.sign.Key, map[string]any{"expires_in": 600, "inline": true})
	resp = do(e.t, http.MethodGet, inline.URL, "", nil)
	e.checkHeader("/{path}", http.MethodGet, "200", "Content-Disposition", resp.header.Get("Content-Disposition"))
	if resp.header.Get("Content-Disposition") != "inline" || resp.header.Get("X-Content-Type-Options") != "" {
		e.t.Errorf("an inline link: %v", resp.header)
	}
}

// checkPolicyRefusals: the refusals of max_uses and client_cidr are
// documented 403s of GET /{path}.
func (e *oaEnv) checkPolicyRefusals() {
	e.t.Helper()
	var op oaOp
	for _, o := range e.ops {
		if o.path == "/{path}" && o.method == http.MethodGet {
			op = o
		}
	}
	responses, _ := op.op["responses"].(map[string]any)
	refused := func(s signed, code string) {
		u, err := url.Parse(s.URL)
		if err != nil {
			e.t.Fatal(err)
		}
		e.check(e.doc, op, http.StatusForbidden, responses["403"], oaRequest{
			params: map[string]string{"path": strings.TrimPrefix(u.Path, "/")}, query: u.RawQuery,
			after: func(r response) {
				if r.errorCode() != code {
					e.t.Errorf("GET %s: %s, want code %s", u.Path, r, code)
				}
			}})
	}
	once := e.signLink(e.sign.Key, map[string]any{"expires_in": 600, "max_uses": 1})
	e.expectURL("the first download", once, http.StatusOK, "")
	refused(once, "max_uses_reached")
	elsewhere := e.signLink(e.sign.Key, map[string]any{"expires_in": 600, "client_cidr": "203.0.113.0/24"})
	refused(elsewhere, "client_not_allowed")
}

var oaLinkCases = map[string]oaCase{
	// Policies on the request path and at signing.
	"GET /{path} 503": {req: func(e *oaEnv) oaRequest {
		// A max_uses link needs the store on every use: with Redis gone it
		// fails closed at once, however fresh the view.
		in, k, stop := e.onRedis()
		resp := do(e.t, http.MethodPost, in.site+"/_signet/v1/files/reports/q1.txt/signed-url", k.Key, map[string]any{"expires_in": 600, "max_uses": 3})
		expectStatus(e.t, "sign a max_uses link on Redis", resp, http.StatusOK, "")
		u, err := url.Parse(decodeAs[signed](e.t, "sign", resp).URL)
		if err != nil {
			e.t.Fatal(err)
		}
		stop()
		return oaRequest{base: in.site, params: map[string]string{"path": "reports/q1.txt"}, query: u.RawQuery}
	}},
	"POST /_signet/v1/files/{path}/signed-url 503": {req: func(e *oaEnv) oaRequest {
		// A link the ledger cannot record is not handed out.
		in, k, stop := e.onRedis()
		stop()
		return oaRequest{base: in.site, params: oaQ1, token: k.Key, body: map[string]any{"expires_in": 600}}
	}},

	// The public links API.
	"GET /_signet/v1/links 200": {req: func(e *oaEnv) oaRequest {
		s := e.signLink(e.sign.Key, oaLinkPolicy)
		return oaRequest{token: e.sign.Key, query: "path=/reports/&limit=1000", after: func(r response) {
			for _, l := range e.listHas(r, s.ID) {
				if l.KeyID != e.sign.ID {
					e.t.Errorf("a site-wide key sees the link %s of %q", l.ID, l.KeyID)
				}
			}
		}}
	}},
	"GET /_signet/v1/links 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, query: "limit=0"}
	}},
	"GET /_signet/v1/links 401": {req: func(e *oaEnv) oaRequest { return oaRequest{} }},
	"GET /_signet/v1/links 403": {req: func(e *oaEnv) oaRequest { return oaRequest{token: e.read.Key} }},
	"GET /_signet/v1/links 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodPost, token: e.admin.Key} }},
	"GET /_signet/v1/links 429": {req: func(e *oaEnv) oaRequest { return oaKeyLimited(e, nil, nil) }},

	"GET /_signet/v1/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.signLink(e.sign.Key, oaLinkPolicy)
		return oaRequest{token: e.sign.Key, params: linkID(s), after: func(r response) {
			l := e.expectLink(r, s)
			if l.KeyID != e.sign.ID || l.Policy.DownloadName != "Q1 2026.txt" || l.Policy.MaxUses != 3 || l.Uses != 0 || !l.Active {
				e.t.Errorf("the link as recorded: %s", r.body)
			}
		}}
	}},
	"GET /_signet/v1/links/{id} 401": {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},
	"GET /_signet/v1/links/{id} 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.read.Key, params: linkID(e.signLink(e.sign.Key, oaLinkPolicy))}
	}},
	"GET /_signet/v1/links/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, params: map[string]string{"id": oaURLID}}
	}},
	"GET /_signet/v1/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, token: e.admin.Key, params: map[string]string{"id": oaURLID}}
	}},
	"GET /_signet/v1/links/{id} 429": {req: func(e *oaEnv) oaRequest {
		return oaKeyLimited(e, map[string]string{"id": oaURLID}, nil)
	}},

	"PATCH /_signet/v1/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.signLink(e.sign.Key, map[string]any{"expires_in": 60})
		return oaRequest{token: e.sign.Key, params: linkID(s), body: map[string]any{"expires_in": 3600}, after: func(r response) {
			if l := e.expectLink(r, s); l.ExpiresAt.Before(time.Now().Add(50 * time.Minute)) {
				e.t.Errorf("extended to %s, want an hour from now", l.ExpiresAt)
			}
			e.expectURL("the extended link", s, http.StatusOK, "")
			// Shortened into the past, it ends at once, the same URL.
			end := do(e.t, http.MethodPatch, e.in.site+"/_signet/v1/links/"+s.ID, e.sign.Key, map[string]any{"expires_at": "2020-01-01T00:00:00Z"})
			expectStatus(e.t, "end the link now", end, http.StatusOK, "")
			e.expectURL("the ended link", s, http.StatusForbidden, "expired")
		}}
	}},
	"PATCH /_signet/v1/links/{id} 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, params: linkID(e.signLink(e.sign.Key, oaLinkPolicy)), body: map[string]any{}}
	}},
	"PATCH /_signet/v1/links/{id} 401": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"id": oaURLID}, body: map[string]any{"expires_in": 60}}
	}},
	"PATCH /_signet/v1/links/{id} 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.read.Key, params: map[string]string{"id": oaURLID}, body: map[string]any{"expires_in": 60}}
	}},
	"PATCH /_signet/v1/links/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, params: map[string]string{"id": oaURLID}, body: map[string]any{"expires_in": 60}}
	}},
	"PATCH /_signet/v1/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPost, token: e.admin.Key, params: map[string]string{"id": oaURLID}}
	}},
	"PATCH /_signet/v1/links/{id} 429": {req: func(e *oaEnv) oaRequest {
		return oaKeyLimited(e, map[string]string{"id": oaURLID}, map[string]any{"expires_in": 60})
	}},

	"DELETE /_signet/v1/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.signLink(e.sign.Key, oaLinkPolicy)
		return oaRequest{token: e.sign.Key, params: linkID(s), after: func(r response) {
			if l := e.expectLink(r, s); !l.Revoked || l.Active {
				e.t.Errorf("the revoked link: %s", r.body)
			}
			e.expectURL("the revoked link", s, http.StatusForbidden, "revoked")
		}}
	}},
	"DELETE /_signet/v1/links/{id} 401": {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},
	"DELETE /_signet/v1/links/{id} 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.read.Key, params: map[string]string{"id": oaURLID}}
	}},
	"DELETE /_signet/v1/links/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, params: map[string]string{"id": oaURLID}}
	}},
	"DELETE /_signet/v1/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, token: e.admin.Key, params: map[string]string{"id": oaURLID}}
	}},
	"DELETE /_signet/v1/links/{id} 429": {req: func(e *oaEnv) oaRequest {
		return oaKeyLimited(e, map[string]string{"id": oaURLID}, nil)
	}},

	"POST /_signet/v1/links/revoke 200": {req: func(e *oaEnv) oaRequest {
		// "all" is every link the caller may see: a site-wide key's own.
		k := createKey(e.t, e.servers[oaAdminServer], map[string]any{"name": "oa bulk", "permissions": "sign"})
		a, b := e.signLink(k.Key, oaLinkPolicy), e.signLink(k.Key, map[string]any{"expires_in": 600})
		other := e.signLink(e.sign.Key, map[string]any{"expires_in": 600})
		return oaRequest{token: k.Key, body: map[string]any{"all": true}, after: func(r response) {
			var res struct{ Revoked int }
			if err := json.Unmarshal(r.body, &res); err != nil || res.Revoked != 2 {
				e.t.Errorf("bulk revocation of two links: %s", r.body)
			}
			e.expectURL("a revoked link", a, http.StatusForbidden, "revoked")
			e.expectURL("a revoked link", b, http.StatusForbidden, "revoked")
			e.expectURL("another key's link", other, http.StatusOK, "")
		}}
	}},
	"POST /_signet/v1/links/revoke 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.admin.Key, body: map[string]any{}}
	}},
	"POST /_signet/v1/links/revoke 401": {req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"all": true}} }},
	"POST /_signet/v1/links/revoke 403": {req: func(e *oaEnv) oaRequest {
		return oaRequest{token: e.read.Key, body: map[string]any{"all": true}}
	}},
	"POST /_signet/v1/links/revoke 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodGet, token: e.admin.Key} }},
	"POST /_signet/v1/links/revoke 429": {req: func(e *oaEnv) oaRequest {
		// A filter no link matches, in case the limit let it through.
		return oaKeyLimited(e, nil, map[string]any{"path": "/oa-nothing/"})
	}},

	// The admin API's links.
	"GET /signet/links 200": {req: func(e *oaEnv) oaRequest {
		s := e.adminSignLink(nil)
		return oaRequest{query: "path=/reports/q1.txt&limit=1000", after: func(r response) { e.listHas(r, s.ID) }}
	}},
	"GET /signet/links 400": {req: func(e *oaEnv) oaRequest { return oaRequest{query: "active=maybe"} }},
	"GET /signet/links 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodDelete} }},
	"GET /signet/links 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{} }},

	"GET /signet/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.adminSignLink(map[string]any{"inline": true, "content_type": "text/plain", "client_cidr": "127.0.0.1"})
		return oaRequest{params: linkID(s), after: func(r response) {
			l := e.expectLink(r, s)
			if l.KeyID != "" || l.User != "" || !l.Policy.Inline || l.Policy.ContentType != "text/plain" || l.Policy.ClientCIDR != "127.0.0.1/32" {
				e.t.Errorf("the operator's link as recorded: %s", r.body)
			}
		}}
	}},
	"GET /signet/links/{id} 404": {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},
	"GET /signet/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: map[string]string{"id": oaURLID}}
	}},
	"GET /signet/links/{id} 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},

	"PATCH /signet/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.adminSignLink(map[string]any{"expires_in": 60})
		return oaRequest{params: linkID(s), body: map[string]any{"expires_in": 3600}, after: func(r response) {
			if l := e.expectLink(r, s); l.ExpiresAt.Before(time.Now().Add(50 * time.Minute)) {
				e.t.Errorf("extended to %s, want an hour from now", l.ExpiresAt)
			}
			e.expectURL("the extended link", s, http.StatusOK, "")
		}}
	}},
	"PATCH /signet/links/{id} 400": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: linkID(e.adminSignLink(nil)), body: map[string]any{"expires_in": 0}}
	}},
	"PATCH /signet/links/{id} 403": {req: func(e *oaEnv) oaRequest {
		// A link whose key was deleted cannot be extended.
		admin := e.servers[oaAdminServer]
		k := createKey(e.t, admin, map[string]any{"name": "oa doomed", "permissions": "sign"})
		s := e.signLink(k.Key, map[string]any{"expires_in": 60})
		expectStatus(e.t, "delete the key", do(e.t, http.MethodDelete, admin+"/signet/keys/"+k.ID, "", nil), http.StatusOK, "")
		return oaRequest{params: linkID(s), body: map[string]any{"expires_in": 3600}}
	}},
	"PATCH /signet/links/{id} 404": {req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"id": oaURLID}, body: map[string]any{"expires_in": 60}}
	}},
	"PATCH /signet/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPost, params: map[string]string{"id": oaURLID}}
	}},
	"PATCH /signet/links/{id} 503": {phase: 1, req: func(e *oaEnv) oaRequest {
		return oaRequest{params: map[string]string{"id": oaURLID}, body: map[string]any{"expires_in": 60}}
	}},

	"DELETE /signet/links/{id} 200": {req: func(e *oaEnv) oaRequest {
		s := e.adminSignLink(nil)
		return oaRequest{params: linkID(s), after: func(r response) {
			if l := e.expectLink(r, s); !l.Revoked {
				e.t.Errorf("the revoked link: %s", r.body)
			}
			e.expectURL("the revoked link", s, http.StatusForbidden, "revoked")
		}}
	}},
	"DELETE /signet/links/{id} 404": {req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},
	"DELETE /signet/links/{id} 405": {req: func(e *oaEnv) oaRequest {
		return oaRequest{method: http.MethodPut, params: map[string]string{"id": oaURLID}}
	}},
	"DELETE /signet/links/{id} 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{params: map[string]string{"id": oaURLID}} }},

	"POST /signet/links/revoke 200": {req: func(e *oaEnv) oaRequest {
		k := createKey(e.t, e.servers[oaAdminServer], map[string]any{"name": "oa admin bulk", "permissions": "sign"})
		s := e.signLink(k.Key, oaLinkPolicy)
		return oaRequest{body: map[string]any{"key_id": k.ID}, after: func(r response) {
			var res struct{ Revoked int }
			if err := json.Unmarshal(r.body, &res); err != nil || res.Revoked != 1 {
				e.t.Errorf("bulk revocation of the key's link: %s", r.body)
			}
			e.expectURL("the revoked link", s, http.StatusForbidden, "revoked")
		}}
	}},
	"POST /signet/links/revoke 400": {req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"path": "/a;b/"}} }},
	"POST /signet/links/revoke 405": {req: func(e *oaEnv) oaRequest { return oaRequest{method: http.MethodGet} }},
	"POST /signet/links/revoke 503": {phase: 1, req: func(e *oaEnv) oaRequest { return oaRequest{body: map[string]any{"all": true}} }},
}
