// A client of Signet's public API (docs/openapi.yaml): the signing
// endpoint, the key API, the user API, the links API and revocations.
//
// Options are camelCase and are sent as the API's snake_case fields
// (expiresIn → expires_in); snake_case names are sent as they are. Every
// method resolves to the API's JSON answer, unchanged (snake_case), and
// rejects with a SignetError subclass for an error answer (and with a
// TypeError or RangeError for invalid arguments: no method throws).

import { errorFor, SignetError } from './errors.js';
import { escapePath } from './sign.js';

const DEFAULT_API = '/_signet/v1';

function snake(name) {
  return name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

// body maps an options object to the API's JSON fields: camelCase names to
// snake_case, Dates to RFC 3339, undefined dropped (null is kept: it means
// "remove" for expires_at and "any number" for max_uses).
function body(fields, what) {
  if (fields == null) return {};
  if (typeof fields !== 'object' || Array.isArray(fields)) throw new TypeError(`${what}: want an object of fields`);
  const out = {};
  const from = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const name = snake(k);
    if (name in out) throw new TypeError(`${what}: ${from[name]} and ${k} are the same field; give one`);
    from[name] = k;
    out[name] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

function requireString(v, what) {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what}: must be a non-empty string`);
  return v;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client of one Signet site's public API, authenticated with an API key. */
export class Client {
  #base;
  #api;
  #key;
  #fetch;
  #timeoutMs;
  #maxRetries;

  /**
   * @param {object} opts
   * @param {string} opts.baseUrl the site, scheme://host[:port]
   * @param {string} opts.key the API key value (sk_…)
   * @param {string} [opts.api] the handler's api prefix (default /_signet/v1)
   * @param {typeof fetch} [opts.fetch] the fetch to use (default globalThis.fetch)
   * @param {number} [opts.timeoutMs] abort each request after this many milliseconds
   * @param {number} [opts.maxRetries] retry a 429 (or a 503 with Retry-After) this many times, after Retry-After (default 0)
   */
  constructor({ baseUrl, key, api = DEFAULT_API, fetch = globalThis.fetch, timeoutMs, maxRetries = 0 } = {}) {
    if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/?#@\s]+\/?$/i.test(baseUrl)) {
      throw new TypeError('baseUrl: want scheme://host[:port], e.g. https://files.example.com');
    }
    if (typeof key !== 'string' || key === '') throw new TypeError('key: must be the API key value (sk_…)');
    if (typeof api !== 'string' || !api.startsWith('/') || api === '/') {
      throw new TypeError('api: must be an absolute path prefix such as /_signet/v1');
    }
    if (typeof fetch !== 'function') throw new TypeError('fetch: no fetch function (Node.js 18 or later has one)');
    if (timeoutMs != null && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError('timeoutMs: must be a positive number');
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new RangeError('maxRetries: must be a whole number, 0 or more');
    this.#base = baseUrl.replace(/\/$/, '');
    this.#api = api.replace(/\/$/, '');
    this.#key = key;
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
    this.#maxRetries = maxRetries;
  }

  /**
   * request sends one API request: method, a path below the api prefix
   * (already escaped), an optional query object and JSON body. It resolves
   * to the answer's JSON and rejects with a SignetError.
   */
  async request(method, path, { query, json } = {}) {
    let url = this.#base + this.#api + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.append(k, String(v));
      const s = q.toString();
      if (s) url += '?' + s;
    }
    const headers = { Authorization: 'Bearer ' + this.#key, Accept: 'application/json' };
    const init = { method, headers };
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    for (let attempt = 0; ; attempt++) {
      if (this.#timeoutMs != null) init.signal = AbortSignal.timeout(this.#timeoutMs);
      const resp = await this.#fetch(url, init);
      const text = await resp.text();
      if (resp.status >= 200 && resp.status < 300) {
        if (text === '') return null;
        try {
          return JSON.parse(text);
        } catch {
          throw new SignetError(resp.status, '', `HTTP ${resp.status}: the answer is not JSON`);
        }
      }
      const err = errorFor(resp.status, resp.headers, text);
      const retriable = resp.status === 429 || (resp.status === 503 && err.retryAfter != null);
      if (!retriable || attempt >= this.#maxRetries || err.retryAfter == null) throw err;
      await sleep(Math.max(err.retryAfter, 0) * 1000);
    }
  }

  // --- the signing endpoint ---------------------------------------------------

  /**
   * sign asks the signing endpoint for a link: POST {api}/files/{path}/signed-url.
   * opts: { expiresIn, folder, check, downloadName, inline, contentType, maxUses, clientCidr }.
   * Resolves to { url, path_url (folder links), path, folder, expires_at, id }.
   */
  async sign(path, opts = {}) {
    requireString(path, 'path');
    if (!path.startsWith('/')) throw new TypeError('path: must be an absolute path such as /reports/q1.pdf');
    const fields = body(opts, 'sign');
    let p = path;
    if (fields.folder === true && p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    return this.request('POST', '/files' + escapePath(p) + '/signed-url', { json: fields });
  }

  // --- the key API ------------------------------------------------------------

  /** listKeys: GET {api}/keys → { keys: [...] } */
  async listKeys() {
    return this.request('GET', '/keys');
  }

  /** getKey: GET {api}/keys/{id} → the key */
  async getKey(id) {
    return this.request('GET', '/keys/' + encodeURIComponent(requireString(id, 'id')));
  }

  /**
   * createKey: POST {api}/keys with { name, type, user, scopes, permissions,
   * expiresAt, offlineSigning } → the key, its value in `key` (shown once).
   */
  async createKey(fields) {
    return this.request('POST', '/keys', { json: body(fields, 'createKey') });
  }

  /** updateKey: PATCH {api}/keys/{id} (expiresAt: null removes the expiry) → the key */
  async updateKey(id, fields) {
    return this.request('PATCH', '/keys/' + encodeURIComponent(requireString(id, 'id')), { json: body(fields, 'updateKey') });
  }

  /** deleteKey: DELETE {api}/keys/{id} → { deleted: key } */
  async deleteKey(id) {
    return this.request('DELETE', '/keys/' + encodeURIComponent(requireString(id, 'id')));
  }

  // --- the user API -----------------------------------------------------------

  /** listUsers: GET {api}/users → { users: [...] } */
  async listUsers() {
    return this.request('GET', '/users');
  }

  /** getUser: GET {api}/users/{name} → the user */
  async getUser(name) {
    return this.request('GET', '/users/' + encodeURIComponent(requireString(name, 'name')));
  }

  /** createUser: POST {api}/users with { name, scopes, permissions, selfService } → the user */
  async createUser(fields) {
    return this.request('POST', '/users', { json: body(fields, 'createUser') });
  }

  /** updateUser: PATCH {api}/users/{name} with { scopes, permissions, selfService } → the user */
  async updateUser(name, fields) {
    return this.request('PATCH', '/users/' + encodeURIComponent(requireString(name, 'name')), { json: body(fields, 'updateUser') });
  }

  /** deleteUser: DELETE {api}/users/{name} → { deleted: user, deleted_keys: [...] } */
  async deleteUser(name) {
    return this.request('DELETE', '/users/' + encodeURIComponent(requireString(name, 'name')));
  }

  // --- the links API ----------------------------------------------------------

  /**
   * listLinks: GET {api}/links with filters { path, keyId, user, active,
   * limit, cursor } → { links: [...], next } (next "" on the last page).
   */
  async listLinks(filters = {}) {
    return this.request('GET', '/links', { query: body(filters, 'listLinks') });
  }

  /**
   * links iterates over every link the filters select, page after page:
   * `for await (const link of client.links({ path: '/reports/' }))`.
   */
  async *links(filters = {}) {
    const f = body(filters, 'links');
    for (let cursor = f.cursor; ;) {
      const page = await this.request('GET', '/links', { query: { ...f, cursor } });
      yield* page.links;
      if (!page.next) return;
      cursor = page.next;
    }
  }

  /** getLink: GET {api}/links/{id} → the link */
  async getLink(id) {
    return this.request('GET', '/links/' + encodeURIComponent(requireString(id, 'id')));
  }

  /**
   * updateLink: PATCH {api}/links/{id} with one of { expiresIn } (seconds
   * from now) and { expiresAt } (a Date or RFC 3339) → the link. Extends or
   * shortens it; its URL stays the same.
   */
  async updateLink(id, fields) {
    return this.request('PATCH', '/links/' + encodeURIComponent(requireString(id, 'id')), { json: body(fields, 'updateLink') });
  }

  /** revokeLink: DELETE {api}/links/{id} → the link, revoked */
  async revokeLink(id) {
    return this.request('DELETE', '/links/' + encodeURIComponent(requireString(id, 'id')));
  }

  /** revokeLinks: POST {api}/links/revoke with { path, keyId, user, all } → { revoked: n } */
  async revokeLinks(filter) {
    return this.request('POST', '/links/revoke', { json: body(filter, 'revokeLinks') });
  }

  // --- revocations ------------------------------------------------------------

  /**
   * revoke: POST {api}/revocations with exactly one of { url, id, keyId,
   * prefix } → { revocation: {...} } or { already_expired: true }.
   */
  async revoke(what) {
    const fields = body(what, 'revoke');
    const given = Object.keys(fields);
    if (given.length !== 1) throw new TypeError('revoke: give exactly one of url, id, keyId, prefix');
    return this.request('POST', '/revocations', { json: fields });
  }
}
