// Offline signing: version-1 signed-URL tokens (docs/signed-urls.md), made
// with an API key's own secret (docs/signed-urls.md, "Signing with an API
// key"). node:crypto only.

import { createHash, createHmac, createSecretKey, randomFillSync } from 'node:crypto';
import {
  activeContentType,
  checkContentType,
  checkDownloadName,
  checkPath,
  checkScope,
  hasLoneSurrogate,
  parseClientCidr,
  scopeCovers,
  utf8Length,
  validParam,
} from './checks.js';

// Limits of the format (verifier/token.go).
const MAX_TOKEN_LEN = 1024;
const MAX_SIGN_QUERY_LEN = 8192 - 1024 - (64 + 2); // 7102
const MAX_HOST_LEN = 300;
const MAX_PATH_LEN = 4096;
const MAX_PREFIX_LEN = 200;
const MAX_KEY_ID_LEN = 64;
const MIN_SECRET_LEN = 32;
const TAG_LEN = 32;
const URL_ID_LEN = 16;
// Signet's signing rules.
const MAX_LIFETIME = 7 * 24 * 3600;
const MAX_MAX_USES = 1_000_000;
const U32_MAX = 0xffffffff;

const DEFAULT_API = '/_signet/v1';
const DEFAULT_PARAM = 'sig';

// --- escaping and the canonical query ------------------------------------

const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;
// ESCAPED[b] is how the canonical form writes byte b.
const ESCAPED = Array.from({ length: 256 }, (_, b) =>
  UNRESERVED[b] ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0'));

function unhex(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

// canonicalPart is the canonical form of one raw name or value (bytes
// b[start:end]), or null for an invalid percent-escape.
function canonicalPart(b, start, end) {
  let out = '';
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === 0x25) {
      if (i + 2 >= end) return null;
      const hi = unhex(b[i + 1]);
      const lo = unhex(b[i + 2]);
      if (hi < 0 || lo < 0) return null;
      out += ESCAPED[(hi << 4) | lo];
      i += 2;
    } else if (c === 0x2b || c === 0x3b) {
      out += String.fromCharCode(c);
    } else {
      out += ESCAPED[c];
    }
  }
  return out;
}

/**
 * canonicalQuery returns the canonical form of a raw query (the part after
 * "?", as a string: its UTF-8 bytes are read), without the pairs whose
 * canonical name is skip. It throws a TypeError for an invalid
 * percent-escape.
 */
export function canonicalQuery(rawQuery, skip = '') {
  const c = canonicalOrNull(rawQuery, skip);
  if (c === null) throw new TypeError('query: invalid percent-encoding (a "%" not followed by two hex digits)');
  return c;
}

function canonicalOrNull(rawQuery, skip) {
  if (rawQuery === '') return '';
  const b = Buffer.from(rawQuery, 'utf8');
  const pairs = [];
  let start = 0;
  while (start <= b.length) {
    let end = b.indexOf(0x26, start);
    if (end < 0) end = b.length;
    if (end > start) {
      let eq = b.indexOf(0x3d, start);
      if (eq < 0 || eq > end) eq = end;
      const name = canonicalPart(b, start, eq);
      const value = eq < end ? canonicalPart(b, eq + 1, end) : '';
      if (name === null || value === null) return null;
      if (skip === '' || name !== skip) pairs.push([name, value]);
    }
    start = end + 1;
  }
  return joinSorted(pairs);
}

// joinSorted sorts canonical [name, value] pairs by name, then value, and
// joins them. Canonical text is ASCII, so comparing strings compares bytes.
function joinSorted(pairs) {
  if (pairs.length > 1) {
    pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  }
  let out = '';
  for (let i = 0; i < pairs.length; i++) out += (i ? '&' : '') + pairs[i][0] + '=' + pairs[i][1];
  return out;
}

/**
 * escapePath writes each byte of s's UTF-8 form that is not unreserved and
 * not "/" as "%" and two uppercase hex digits.
 */
export function escapePath(s) {
  return slashes(escapeComponent(s));
}

// escapeComponent escapes every byte that is not unreserved, "/" included.
function escapeComponent(s) {
  // encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) alone.
  const e = encodeURIComponent(s);
  return /[!'()*]/.test(e) ? e.replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()) : e;
}

function normaliseHost(host) {
  if (host.endsWith(':80')) host = host.slice(0, -3);
  else if (host.endsWith(':443')) host = host.slice(0, -4);
  return host.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

// --- base64url, URL ids ----------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]*$/;

// decodeURLId is ParseURLID: exactly 22 base64url characters with zero
// trailing bits.
function decodeURLId(s) {
  if (typeof s !== 'string' || s.length !== 22 || !B64URL.test(s) || !'AQgw'.includes(s[21])) return null;
  return Buffer.from(s, 'base64url');
}

function urlIdBytes(id, what) {
  if (typeof id === 'string') {
    const b = decodeURLId(id);
    if (!b) throw new TypeError(`${what}: must be 22 characters of base64url (16 bytes)`);
    return b;
  }
  if (id instanceof Uint8Array && id.length === URL_ID_LEN) return id;
  throw new TypeError(`${what}: must be 16 bytes or their 22 characters of base64url`);
}

// A pool of random bytes: one randomFillSync per 256 URL ids.
const POOL_IDS = 256;
const pool = Buffer.alloc(URL_ID_LEN * POOL_IDS);
let poolAt = pool.length;

// Ids whose text form would start with "-" (one time in 64) are drawn
// again, so that no id reads as a flag on a command line.
function randomURLId(dst, at) {
  do {
    if (poolAt === pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    pool.copy(dst, at, poolAt, poolAt + URL_ID_LEN);
    pool.fill(0, poolAt, poolAt + URL_ID_LEN); // no id stays in memory twice
    poolAt += URL_ID_LEN;
  } while (dst[at] >> 2 === 62);
}

// --- API keys --------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const KEY_RE = /^(sk|pk)_[A-Za-z0-9_-]{48}$/;

/**
 * checkKey throws unless key is a well-formed secret API key value: "sk_"
 * and 48 characters of base64url holding 32 random bytes and their CRC-32.
 */
function checkKey(key) {
  if (typeof key !== 'string') throw new TypeError('key: must be the API key value, a string (sk_…)');
  if (!KEY_RE.test(key)) {
    throw new TypeError('key: malformed API key: want sk_ and 48 characters of base64url, as shown when the key was created');
  }
  const raw = Buffer.from(key.slice(3), 'base64url');
  const crc = crc32(Buffer.concat([Buffer.from(key.slice(0, 3)), raw.subarray(0, 32)]));
  if (raw.readUInt32BE(32) !== crc) throw new TypeError('key: malformed API key (bad checksum): check that it was copied whole');
  if (key.startsWith('pk_')) throw new TypeError('key: not a secret API key (sk_…): public keys cannot sign');
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * keyIdOf returns the id of the API key whose value is key: "key_" and the
 * first 10 bytes of SHA-256("signet-key-id-v1" 0x00 key) in lower-case
 * base32. It checks the key first (a secret key, valid checksum).
 */
export function keyIdOf(key) {
  checkKey(key);
  return deriveKeyId(key);
}

function deriveKeyId(key) {
  const d = createHash('sha256').update('signet-key-id-v1\x00').update(key, 'latin1').digest();
  let out = 'key_';
  // 10 bytes = 80 bits = 16 characters of 5 bits.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | d[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

function offlineSecret(key) {
  return createHmac('sha256', Buffer.from(key, 'latin1')).update('signet-offline-v1').digest();
}

// --- the token ---------------------------------------------------------------

const LABEL = Buffer.from('signet-url');

// Policy: the normalised policy options, checked at the format level
// (Policy.Check): { name, inline, contentType, maxUses, cidr } with cidr
// { addr, bits } or null.
function formatPolicy(p, where) {
  const out = { name: '', inline: false, contentType: '', maxUses: 0, cidr: null };
  if (p == null) return out;
  if (typeof p !== 'object') throw new TypeError(`${where}: must be an object`);
  const { downloadName, inline, contentType, maxUses, clientCidr } = p;
  if (downloadName != null && downloadName !== '') {
    const why = checkDownloadName(downloadName);
    if (why) throw new TypeError(`downloadName: ${why}`);
    out.name = downloadName;
  }
  if (inline != null) {
    if (typeof inline !== 'boolean') throw new TypeError('inline: must be a boolean');
    out.inline = inline;
  }
  if (contentType != null && contentType !== '') {
    const why = checkContentType(contentType);
    if (why) throw new TypeError(`contentType: ${why}`);
    out.contentType = contentType;
  }
  if (maxUses != null && maxUses !== 0) {
    if (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > U32_MAX) {
      throw new RangeError(`maxUses: must be a whole number from 1 to ${U32_MAX}`);
    }
    out.maxUses = maxUses;
  }
  if (clientCidr != null && clientCidr !== '') {
    const c = parseClientCidr(clientCidr);
    if (c.error) throw new TypeError(`clientCidr: ${c.error}`);
    out.cidr = c;
  }
  return out;
}

function writeU64(buf, at, n) {
  buf.writeUInt32BE(Math.floor(n / 0x100000000), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
  return at + 8;
}

function writeConstraintHeader(buf, at, typ, n) {
  buf[at] = typ;
  buf.writeUInt16BE(n, at + 1);
  return at + 3;
}

// writeConstraints writes the prefix and the policy in type order at buf[at]
// and returns the end.
function writeConstraints(buf, at, prefix, p) {
  if (prefix !== '') {
    const n = buf.write(prefix, at + 3, 'utf8');
    writeConstraintHeader(buf, at, 0x01, n);
    at += 3 + n;
  }
  if (p.name !== '' || p.inline) {
    buf[at + 3] = p.inline ? 0x01 : 0x00;
    const n = p.name === '' ? 0 : buf.write(p.name, at + 4, 'utf8');
    writeConstraintHeader(buf, at, 0x02, 1 + n);
    at += 4 + n;
  }
  if (p.contentType !== '') {
    const n = buf.write(p.contentType, at + 3, 'latin1');
    writeConstraintHeader(buf, at, 0x03, n);
    at += 3 + n;
  }
  if (p.maxUses !== 0) {
    at = writeConstraintHeader(buf, at, 0x04, 4);
    buf.writeUInt32BE(p.maxUses, at);
    at += 4;
  }
  if (p.cidr) {
    const a = p.cidr.addr;
    at = writeConstraintHeader(buf, at, 0x05, a.length + 1);
    buf.set(a, at);
    at += a.length;
    buf[at++] = p.cidr.bits;
  }
  return at;
}

// writeField writes F(s) (u16 length, then the UTF-8 bytes) at buf[at].
function writeField(buf, at, s, enc = 'utf8') {
  const n = buf.write(s, at + 2, enc);
  buf.writeUInt16BE(n, at);
  return at + 2 + n;
}

// Scratch buffers, reused by every call (signing is synchronous).
const TOKEN_BUF = Buffer.alloc(1024);
const MAC_BUF = Buffer.alloc(2 + LABEL.length + 2 + 1024 + 2 + 4 * MAX_HOST_LEN + 5 + 2 + 3 * MAX_PATH_LEN + 2 + 3 * MAX_SIGN_QUERY_LEN);
LABEL.copy(MAC_BUF, 2);
MAC_BUF.writeUInt16BE(LABEL.length, 0);
const MAC_AFTER_LABEL = 2 + LABEL.length;

// finish writes the MAC input for the token bytes TOKEN_BUF[0:n], appends
// the tag made with mac (a function of a Buffer returning 32 bytes) and
// returns the token text.
function finish(n, host, bound, canonQuery, mac) {
  let at = MAC_AFTER_LABEL;
  MAC_BUF.writeUInt16BE(n, at);
  TOKEN_BUF.copy(MAC_BUF, at + 2, 0, n);
  at += 2 + n;
  at = writeField(MAC_BUF, at, host);
  MAC_BUF.writeUInt16BE(3, at);
  MAC_BUF.write('GET', at + 2, 'latin1');
  at += 5;
  at = writeField(MAC_BUF, at, bound);
  at = writeField(MAC_BUF, at, canonQuery, 'latin1');
  const tag = mac(MAC_BUF.subarray(0, at));
  tag.copy(TOKEN_BUF, n);
  const token = TOKEN_BUF.toString('base64url', 0, n + TAG_LEN);
  if (token.length > MAX_TOKEN_LEN) throw new RangeError(`cannot sign: the token would be longer than ${MAX_TOKEN_LEN} bytes`);
  return token;
}

function isTime(n) {
  return Number.isSafeInteger(n) && n > 0;
}

/**
 * signToken is the lower-level signer, the Go verifier's Sign: it signs the
 * claims for the target with an explicit secret { id, key } and returns the
 * token. It checks what Sign checks (the format's rules), not Signet's
 * signing rules (lifetime, active content types, folder headers):
 *
 *   secret: { id: 1-32 of [A-Za-z0-9_-], key: at least 32 bytes }
 *   claims: { expiresAt, issuedAt (unix seconds), id (URL id: 22 characters
 *             of base64url or 16 bytes), keyId = '', prefix = '',
 *             policy: { downloadName, inline, contentType, maxUses, clientCidr } }
 *   target: { host, method = 'GET', path (decoded), rawQuery = '' }
 */
export function signToken(secret, claims, target) {
  if (secret == null || typeof secret !== 'object') throw new TypeError('secret: must be { id, key }');
  const { id: secretId, key } = secret;
  if (typeof secretId !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(secretId)) {
    throw new TypeError('secret.id: signing secret id must be 1-32 characters of [A-Za-z0-9_-]');
  }
  if (!(key instanceof Uint8Array)) throw new TypeError('secret.key: must be a Uint8Array or Buffer');
  if (key.length < MIN_SECRET_LEN) throw new RangeError(`secret.key: signing secret is shorter than ${MIN_SECRET_LEN} bytes`);
  if (claims == null || typeof claims !== 'object') throw new TypeError('claims: must be an object');
  if (target == null || typeof target !== 'object') throw new TypeError('target: must be an object');

  const { expiresAt, issuedAt, keyId = '', prefix = '' } = claims;
  if (!isTime(issuedAt) || !isTime(expiresAt) || expiresAt <= issuedAt) {
    throw new RangeError('cannot sign: need 0 < issuedAt < expiresAt (whole unix seconds)');
  }
  if (typeof keyId !== 'string' || keyId.length > MAX_KEY_ID_LEN || !/^[\x21-\x7e]*$/.test(keyId)) {
    throw new TypeError(`cannot sign: key id must be at most ${MAX_KEY_ID_LEN} printable ASCII characters`);
  }
  if (typeof prefix !== 'string') throw new TypeError('claims.prefix: must be a string');
  if (prefix !== '' && !hasLoneSurrogate(prefix) && utf8Length(prefix) > MAX_PREFIX_LEN) {
    throw new RangeError(`cannot sign: prefix longer than ${MAX_PREFIX_LEN} bytes`);
  }
  if (prefix !== '' && checkScope(prefix)) throw new TypeError('cannot sign: prefix is not a clean absolute path');
  const urlId = urlIdBytes(claims.id, 'claims.id');
  const policy = formatPolicy(claims.policy, 'claims.policy');

  const { host, method = 'GET', path, rawPath = '', rawQuery = '' } = target;
  if (method !== 'GET' && method !== 'HEAD') throw new TypeError('cannot sign: the method must be GET or HEAD');
  if (typeof host !== 'string' || host.length > MAX_HOST_LEN || normaliseHost(host) === '') {
    throw new TypeError(`cannot sign: host missing or longer than ${MAX_HOST_LEN} bytes`);
  }
  if (typeof path !== 'string') throw new TypeError('target.path: must be a string');
  if (typeof rawQuery !== 'string') throw new TypeError('target.rawQuery: must be a string');
  if (!hasLoneSurrogate(path) && utf8Length(path) > MAX_PATH_LEN) {
    throw new RangeError(`cannot sign: path longer than ${MAX_PATH_LEN} bytes`);
  }
  if (Buffer.byteLength(rawQuery) > MAX_SIGN_QUERY_LEN) {
    throw new RangeError(`cannot sign: query longer than ${MAX_SIGN_QUERY_LEN} bytes`);
  }
  if (typeof rawPath !== 'string' || rawPath.length > MAX_PATH_LEN) {
    throw new RangeError(`cannot sign: raw path longer than ${MAX_PATH_LEN} bytes`);
  }
  const why = checkPath(path) ?? (/%(2f|5c)/i.test(rawPath) ? 'the raw path has an encoded "/" or "\\"' : null);
  if (why) throw new TypeError(`cannot sign: ambiguous path: ${why}`);
  if (prefix !== '' && !scopeCovers(prefix, path)) throw new TypeError('cannot sign: the prefix does not cover the path');
  if (prefix !== '' && rawQuery !== '') {
    throw new TypeError('cannot sign: a folder token binds no query; sign it without one');
  }
  if (hasLoneSurrogate(rawQuery)) throw new TypeError('target.rawQuery: is not valid Unicode (an unpaired surrogate)');
  const canon = prefix !== '' ? '' : canonicalOrNull(rawQuery, '');
  if (canon === null) throw new TypeError('cannot sign: query has an invalid percent-encoding');

  let at = 0;
  TOKEN_BUF[at++] = 0x01;
  TOKEN_BUF[at++] = secretId.length;
  at += TOKEN_BUF.write(secretId, at, 'latin1');
  at = writeU64(TOKEN_BUF, at, expiresAt);
  at = writeU64(TOKEN_BUF, at, issuedAt);
  TOKEN_BUF.set(urlId, at);
  at += URL_ID_LEN;
  TOKEN_BUF[at++] = keyId.length;
  at += TOKEN_BUF.write(keyId, at, 'latin1');
  at = writeConstraints(TOKEN_BUF, at, prefix, policy);
  const bound = prefix !== '' ? prefix : path;
  return finish(at, normaliseHost(host), bound, canon, (m) => createHmac('sha256', key).update(m).digest());
}

// --- signing with an API key -------------------------------------------------

// parseBaseUrl accepts scheme://host[:port] with an optional trailing slash
// (as Signet's public_base_url does) and returns the base without the
// slash and its host (the authority, as given).
function parseBaseUrl(baseUrl) {
  if (typeof baseUrl !== 'string') throw new TypeError('baseUrl: must be a string such as https://files.example.com');
  const m = /^(https?):\/\/([^/?#@\s]+)\/?$/i.exec(baseUrl);
  if (!m || !/^[\x21-\x7e]+$/.test(m[2])) {
    throw new TypeError('baseUrl: want scheme://host[:port], e.g. https://files.example.com (no path, query or user info)');
  }
  if (m[2].length > MAX_HOST_LEN) throw new RangeError(`baseUrl: host longer than ${MAX_HOST_LEN} bytes`);
  return { base: baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl, host: normaliseHost(m[2]) };
}

// queryString turns the query option into the raw query to append and its
// canonical form: a string as it is; pairs escaped, in the order given.
function queryString(q, param) {
  if (typeof q === 'string') {
    if (q.includes('#')) throw new TypeError('query: must not contain "#" (a fragment is not sent to the server)');
    if (hasLoneSurrogate(q)) throw new TypeError('query: is not valid Unicode (an unpaired surrogate)');
    if (Buffer.byteLength(q) > MAX_SIGN_QUERY_LEN) throw new RangeError(`query: longer than ${MAX_SIGN_QUERY_LEN} bytes`);
    const canon = canonicalOrNull(q, '');
    if (canon === null) throw new TypeError('query: invalid percent-encoding (a "%" not followed by two hex digits)');
    if (canonicalOrNull(q, param) !== canon) {
      throw new TypeError(`query: must not contain the signature parameter "${param}" itself`);
    }
    return { raw: q, canon };
  }
  if (q === null || typeof q !== 'object') throw new TypeError('query: want a string, an object, or [name, value] pairs');
  // Pairs: every byte of each name and value that is not unreserved is
  // escaped ("/" too, unlike in the path), which is already their canonical
  // form, so the canonical query is made from the parts, not parsed again.
  const iterable = typeof q[Symbol.iterator] === 'function';
  const canonPairs = [];
  let raw = '';
  for (const pair of iterable ? q : Object.entries(q)) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('query: want a string, an object, or [name, value] pairs');
    const [name, value] = pair;
    if (typeof name !== 'string') throw new TypeError('query: each name must be a string');
    const values = !iterable && Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined) continue;
      const t = typeof v;
      if (t !== 'string' && t !== 'number' && t !== 'boolean' && t !== 'bigint') {
        throw new TypeError(`query: the value of "${name}" must be a string, number or boolean`);
      }
      const vs = String(v);
      if (hasLoneSurrogate(name) || hasLoneSurrogate(vs)) throw new TypeError('query: is not valid Unicode (an unpaired surrogate)');
      const cn = escapeComponent(name);
      const cv = escapeComponent(vs);
      if (cn === param) throw new TypeError(`query: must not contain the signature parameter "${param}" itself`);
      canonPairs.push([cn, cv]);
      raw += (raw === '' ? '' : '&') + cn + '=' + cv;
    }
  }
  if (raw.length > MAX_SIGN_QUERY_LEN) throw new RangeError(`query: longer than ${MAX_SIGN_QUERY_LEN} bytes`);
  return { raw, canon: joinSorted(canonPairs) };
}

// slashes turns the "%2F" of an escaped component back into "/".
function slashes(s) {
  return s.includes('%2F') ? s.replace(/%2F/g, '/') : s;
}

const NO_QUERY = { raw: '', canon: '' };

function isoSeconds(unix) {
  return new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Signer signs links offline with one API key: it checks the key and
 * derives its id and secret once, so signing many links costs one HMAC
 * each.
 */
export class Signer {
  #secret;
  #keyId;
  #header; // version, secret id (the key id); expiry and issue times follow
  #trailer; // the key-id field
  #lastBase = null;
  #lastParsed = null;

  /** @param {string} key the secret API key value (sk_…), created with offline signing */
  constructor(key) {
    checkKey(key);
    this.#keyId = deriveKeyId(key);
    this.#secret = createSecretKey(offlineSecret(key));
    const id = Buffer.from(this.#keyId, 'latin1');
    this.#header = Buffer.concat([Buffer.from([0x01, id.length]), id]);
    this.#trailer = Buffer.concat([Buffer.from([id.length]), id]);
  }

  /** The key's id (key_…), which the links carry as their key and secret id. */
  get keyId() {
    return this.#keyId;
  }

  /** signUrl returns the link's URL (or, with folder and pathForm, its path form). */
  signUrl(opts) {
    const l = this.#sign(opts);
    return opts.pathForm ? l.path_url : l.url;
  }

  /**
   * signLink returns the link as the signing endpoint describes it:
   * { url, path_url (folder links), path, folder, expires_at, id }.
   */
  signLink(opts) {
    const { url, path_url, path, folder, expiresAt, id } = this.#sign(opts);
    const out = { url, path, folder, expires_at: isoSeconds(expiresAt), id };
    if (folder) out.path_url = path_url;
    return out;
  }

  #sign(opts) {
    if (opts == null || typeof opts !== 'object') throw new TypeError('signUrl: want an options object');
    const {
      baseUrl, path, expiresIn, folder = false, query, param = DEFAULT_PARAM, api = DEFAULT_API, pathForm = false,
      now, urlId, downloadName, inline, contentType, maxUses, clientCidr,
    } = opts;

    if (baseUrl !== this.#lastBase) {
      this.#lastParsed = parseBaseUrl(baseUrl);
      this.#lastBase = baseUrl;
    }
    const { base, host } = this.#lastParsed;
    if (typeof path !== 'string') throw new TypeError('path: must be a string, the decoded path such as /reports/q1.pdf');
    if (typeof folder !== 'boolean') throw new TypeError('folder: must be a boolean');
    if (!Number.isInteger(expiresIn)) throw new TypeError('expiresIn: must be a whole number of seconds');
    if (expiresIn < 1 || expiresIn > MAX_LIFETIME) {
      throw new RangeError(`expiresIn: must be between 1 and ${MAX_LIFETIME} seconds (7 days)`);
    }
    if (param !== DEFAULT_PARAM && !validParam(param)) {
      throw new TypeError('param: the signature parameter must be 1-64 characters of A-Z a-z 0-9 - . _ ~');
    }
    if (pathForm && !folder) throw new TypeError('pathForm: only a folder link has a path form');
    if (typeof api !== 'string' || (api !== DEFAULT_API && (api === '/' || api.endsWith('/') || checkScope(api)))) {
      throw new TypeError('api: must be a clean absolute path prefix without a trailing "/", such as /_signet/v1');
    }

    let issuedAt;
    if (now == null) issuedAt = Math.floor(Date.now() / 1000);
    else if (now instanceof Date) issuedAt = Math.floor(now.getTime() / 1000);
    else if (typeof now === 'number' && Number.isFinite(now)) issuedAt = Math.floor(now);
    else throw new TypeError('now: must be a Date or unix seconds');
    if (!isTime(issuedAt)) throw new RangeError('now: must be after 1970');
    const expiresAt = issuedAt + expiresIn;

    // The path: clean, and for a folder the prefix with one trailing "/".
    const pathBytes = hasLoneSurrogate(path) ? 0 : utf8Length(path);
    if (pathBytes > MAX_PATH_LEN) throw new RangeError(`path: longer than ${MAX_PATH_LEN} bytes`);
    const why = checkPath(path);
    if (why) throw new TypeError(`path: ${why}`);
    let prefix = '';
    if (folder) {
      prefix = path.endsWith('/') ? path : path + '/';
      if (utf8Length(prefix) > MAX_PREFIX_LEN) throw new RangeError(`path: a folder is at most ${MAX_PREFIX_LEN} bytes (with its trailing "/")`);
      if (prefix.includes(';') || checkScope(prefix)) {
        throw new TypeError('path: a folder must be a clean absolute path such as /movie/ (no ";", "*" or "?")');
      }
    }

    // Policies: the format's checks, then Signet's signing rules.
    if (folder) {
      for (const [name, set] of [['downloadName', downloadName != null && downloadName !== ''], ['inline', inline === true], ['contentType', contentType != null && contentType !== '']]) {
        if (set) throw new TypeError(`${name}: a folder link cannot set response headers for its files; sign a file link`);
      }
    }
    if (maxUses === 0) throw new RangeError(`maxUses: must be a whole number from 1 to ${MAX_MAX_USES} (leave it out for any number)`);
    const policy = formatPolicy({ downloadName, inline, contentType, maxUses, clientCidr }, 'policies');
    if (policy.contentType !== '' && activeContentType(policy.contentType)) {
      throw new TypeError('contentType: types a browser runs as a page or a script (HTML, XHTML, SVG, XML, JavaScript) cannot be set by a link');
    }
    if (policy.maxUses > MAX_MAX_USES) throw new RangeError(`maxUses: must be a whole number from 1 to ${MAX_MAX_USES}`);

    // The query: file links only.
    let q = NO_QUERY;
    if (query != null && query !== '') {
      if (folder) throw new TypeError('query: a folder link binds no query; sign it without one');
      q = queryString(query, param);
    }

    // The token.
    const buf = TOKEN_BUF;
    let at = this.#header.copy(buf, 0);
    at = writeU64(buf, at, expiresAt);
    at = writeU64(buf, at, issuedAt);
    let id;
    if (urlId == null) {
      randomURLId(buf, at);
      id = buf.toString('base64url', at, at + URL_ID_LEN);
    } else {
      const b = urlIdBytes(urlId, 'urlId');
      buf.set(b, at);
      id = typeof urlId === 'string' ? urlId : Buffer.from(b).toString('base64url');
    }
    at += URL_ID_LEN;
    at += this.#trailer.copy(buf, at);
    at = writeConstraints(buf, at, prefix, policy);
    const secret = this.#secret;
    const token = finish(at, host, folder ? prefix : path, q.canon, (m) => createHmac('sha256', secret).update(m).digest());

    const linkPath = folder ? prefix : path;
    const escaped = escapePath(linkPath);
    const sep = q.raw === '' ? '?' : '?' + q.raw + '&';
    return {
      url: base + escaped + sep + param + '=' + token,
      path_url: folder ? base + escapePath(api) + '/t/' + token + escaped : undefined,
      path: linkPath,
      folder,
      expiresAt,
      id,
    };
  }
}

// signUrl and signLink keep the Signer of the last key they were given, so
// that calling them in a loop with one key derives it once.
let lastKey = null;
let lastSigner = null;

function signerFor(opts) {
  if (opts == null || typeof opts !== 'object') throw new TypeError('signUrl: want an options object');
  if (opts.key !== lastKey || lastSigner === null) {
    lastSigner = new Signer(opts.key);
    lastKey = opts.key;
  }
  return lastSigner;
}

/**
 * signUrl signs a link offline with an API key and returns its URL; see
 * docs/client-js.md for the options.
 */
export function signUrl(opts) {
  return signerFor(opts).signUrl(opts);
}

/** signLink is signUrl returning { url, path_url, path, folder, expires_at, id }. */
export function signLink(opts) {
  return signerFor(opts).signLink(opts);
}
