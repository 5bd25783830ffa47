// The checks a signer makes before it hands out a link: ports of the Go
// verifier's CheckPath, CheckScope, ScopeCovers, CheckDownloadName,
// CheckContentType and ParseClientCIDR (verifier/path.go, scope.go,
// policy.go), and Signet's signing rules (rules/policy.go). Each returns
// null when the value passes, or the reason as a sentence without the
// value in it, so that callers can wrap it in the error they throw.

/** Reports whether s holds an unpaired UTF-16 surrogate (not valid UTF-8). */
export function hasLoneSurrogate(s) {
  return /\p{Cs}/u.test(s);
}

// Windows best-fit and compatibility look-alikes of '.', '/' and '\'.
const BEST_FIT_SEPARATORS = new Set([
  0xff0e, 0xfe52, 0x2024, 0x2025, // dots
  0xff0f, 0x2215, 0x2044, 0x29f8, // slashes
  0xff3c, 0xfe68, 0x2216, // backslashes
]);

function bestFitSpace(r) {
  return (r >= 0x2000 && r <= 0x2006) || r === 0x3000;
}

function isHexCode(c) {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

// isEscape: s at i starts what a second percent-decoding would read: two hex
// digits, or "u"/"U" and four hex digits (IIS).
function isEscapeAt(s, i) {
  if (i + 2 <= s.length && isHexCode(s.charCodeAt(i)) && isHexCode(s.charCodeAt(i + 1))) return true;
  if (i + 5 > s.length || (s.charCodeAt(i) | 0x20) !== 0x75) return false;
  for (let k = 1; k <= 4; k++) if (!isHexCode(s.charCodeAt(i + k))) return false;
  return true;
}

function trailingDotOrSpace(c) {
  return c === 0x2e || c === 0x20;
}

// segmentOK: the segment s[start:end], whose first ';' is at semi (-1 if
// none), is not empty, and neither it nor its core ends in a dot or a space.
function segmentOK(s, start, semi, end) {
  if (start === end || trailingDotOrSpace(s.charCodeAt(end - 1))) return false;
  return semi < 0 || (semi > start && !trailingDotOrSpace(s.charCodeAt(semi - 1)));
}

/**
 * checkPath is the verifier's CheckPath for a decoded path given as a
 * well-formed JavaScript string (its UTF-8 form is what the MAC binds).
 * Every structural character is ASCII, so walking the string's code points
 * is walking the UTF-8 bytes. Returns null or the reason.
 */
export function checkPath(path) {
  if (typeof path !== 'string' || path.length === 0 || path.charCodeAt(0) !== 0x2f) {
    return 'must be an absolute path (starting with "/")';
  }
  if (hasLoneSurrogate(path)) return 'is not valid Unicode (an unpaired surrogate)';
  let seg = 1;
  let semi = -1;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x80) {
      if (c < 0x20 || c === 0x7f) return 'contains a control character';
      if (c === 0x5c) return 'contains a backslash';
      if (c === 0x2f) {
        if (!segmentOK(path, seg, semi, i)) return AMBIGUOUS_SEGMENT;
        seg = i + 1;
        semi = -1;
      } else if (c === 0x3b) {
        if (semi < 0) semi = i;
      } else if (c === 0x25) {
        if (isEscapeAt(path, i + 1)) return 'contains a percent-escape (give the decoded path: "/a b.pdf", not "/a%20b.pdf")';
      }
      continue;
    }
    const r = path.codePointAt(i);
    const n = r > 0xffff ? 2 : 1;
    if (r <= 0x9f) return 'contains a control character';
    if (BEST_FIT_SEPARATORS.has(r)) return 'contains a look-alike of ".", "/" or "\\"';
    if (bestFitSpace(r)) {
      const j = i + n;
      if (j === path.length || path.charCodeAt(j) === 0x2f || (path.charCodeAt(j) === 0x3b && semi < 0)) {
        return 'has a segment ending in a look-alike of a space';
      }
    }
    i += n - 1;
  }
  if (seg < path.length && !segmentOK(path, seg, semi, path.length)) return AMBIGUOUS_SEGMENT;
  return null;
}

const AMBIGUOUS_SEGMENT = 'has an empty, "." or ".." segment, or one ending in a dot or a space';

/** checkScope is CheckScope: a clean absolute path without "*" or "?". */
export function checkScope(scope) {
  const why = checkPath(scope);
  if (why) return why;
  if (/[*?]/.test(scope)) return 'contains "*" or "?"';
  return null;
}

/** scopeCovers is ScopeCovers: scope grants path at a segment boundary. */
export function scopeCovers(scope, path) {
  if (scope === '/') return true;
  const s = scope.endsWith('/') ? scope.slice(0, -1) : scope;
  if (!path.startsWith(s)) return false;
  return path.length === s.length || path.charCodeAt(s.length) === 0x2f;
}

/** utf8Length is the length of s in bytes of UTF-8 (s well-formed). */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // a pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

export const MAX_DOWNLOAD_NAME_LEN = 200;
export const MAX_CONTENT_TYPE_LEN = 100;

/** checkDownloadName is CheckDownloadName. */
export function checkDownloadName(s) {
  if (typeof s !== 'string') return 'must be a string';
  if (s === '') return 'download name is empty';
  if (hasLoneSurrogate(s)) return 'download name is not valid UTF-8';
  if (utf8Length(s) > MAX_DOWNLOAD_NAME_LEN) return `download name is longer than ${MAX_DOWNLOAD_NAME_LEN} bytes`;
  if (s === '.' || s === '..') return 'download name cannot be "." or ".."';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return 'download name contains a control character';
    if (c === 0x2f || c === 0x5c) return 'download name contains "/" or "\\"';
  }
  if (s.charCodeAt(0) === 0x20 || s.charCodeAt(s.length - 1) === 0x20) {
    return 'download name starts or ends with a space';
  }
  return null;
}

// Media types, as Go's mime.ParseMediaType reads them (for printable ASCII
// input, where unicode.IsSpace is only the space).
const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(c) {
  return c > 0x20 && c < 0x7f && !TSPECIALS.includes(String.fromCharCode(c));
}

function consumeToken(v) {
  let i = 0;
  while (i < v.length && isTokenChar(v.charCodeAt(i))) i++;
  return [v.slice(0, i), v.slice(i)];
}

function consumeValue(v) {
  if (v === '') return ['', ''];
  if (v[0] !== '"') return consumeToken(v);
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const r = v[i];
    if (r === '"') return [out, v.slice(i + 1)];
    if (r === '\\' && i + 1 < v.length && TSPECIALS.includes(v[i + 1])) {
      out += v[i + 1];
      i++;
      continue;
    }
    if (r === '\r' || r === '\n') return ['', v];
    out += r;
  }
  return ['', v];
}

const trimLeftSpace = (s) => s.replace(/^ +/, '');

function consumeMediaParam(v) {
  let rest = trimLeftSpace(v);
  if (!rest.startsWith(';')) return ['', '', v];
  rest = trimLeftSpace(rest.slice(1));
  let param;
  [param, rest] = consumeToken(rest);
  param = param.toLowerCase();
  if (param === '') return ['', '', v];
  rest = trimLeftSpace(rest);
  if (!rest.startsWith('=')) return ['', '', v];
  rest = trimLeftSpace(rest.slice(1));
  const [value, rest2] = consumeValue(rest);
  if (value === '' && rest2 === rest) return ['', '', v];
  return [param, value, rest2];
}

/**
 * parseMediaType returns the lower-cased media type of a printable ASCII
 * content type, or null where Go's mime.ParseMediaType returns an error.
 */
export function parseMediaType(v) {
  const semi = v.indexOf(';');
  const base = semi < 0 ? v : v.slice(0, semi);
  const mediatype = base.toLowerCase().trim();
  const [typ, rest] = consumeToken(mediatype);
  if (typ === '') return null;
  if (rest !== '') {
    if (!rest.startsWith('/')) return null;
    const [sub, rest2] = consumeToken(rest.slice(1));
    if (sub === '' || rest2 !== '') return null;
  }
  const params = new Map();
  let s = v.slice(base.length);
  while (s.length > 0) {
    s = trimLeftSpace(s);
    if (s.length === 0) break;
    const [key, value, rest3] = consumeMediaParam(s);
    if (key === '') {
      if (rest3.trim() === ';') break; // a trailing ';' is fine
      return null;
    }
    if (params.has(key) && params.get(key) !== value) return null; // duplicate parameter
    params.set(key, value);
    s = rest3;
  }
  return mediatype;
}

/** checkContentType is CheckContentType. */
export function checkContentType(s) {
  if (typeof s !== 'string') return 'must be a string';
  if (s === '') return 'content type is empty';
  if (s.length > MAX_CONTENT_TYPE_LEN) return `content type is longer than ${MAX_CONTENT_TYPE_LEN} bytes`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return 'content type must be printable ASCII';
  }
  if (s[0] === ' ' || s[s.length - 1] === ' ') return 'content type starts or ends with a space';
  const mt = parseMediaType(s);
  if (mt === null) return 'content type is not a valid media type';
  if (!mt.includes('/')) return 'content type must be a type/subtype, such as text/plain';
  if (mt.includes('*')) return 'content type cannot be a wildcard (*)';
  return null;
}

/**
 * activeContentType is Signet's rule (verifier.ActiveContentType): a type a browser
 * runs as a page or a script, which a link may not set.
 */
export function activeContentType(ct) {
  const mt = parseMediaType(ct);
  if (mt === null) return true;
  return (
    mt.includes('html') || mt.endsWith('/xml') || mt.endsWith('+xml') || mt.includes('javascript') ||
    mt.includes('ecmascript') || mt.startsWith('multipart/') || mt === 'text/xsl'
  );
}

// IP addresses and prefixes, as Go's net/netip parses them.

function parseIPv4Fields(s, out, at) {
  let val = 0;
  let pos = 0;
  let digLen = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digLen === 1 && val === 0) return false; // leading zero
      val = val * 10 + (c - 0x30);
      digLen++;
      if (val > 255) return false;
    } else if (c === 0x2e) {
      if (i === 0 || i === s.length - 1 || s.charCodeAt(i - 1) === 0x2e) return false;
      if (pos === 3) return false;
      out[at + pos++] = val;
      val = 0;
      digLen = 0;
    } else return false;
  }
  if (pos < 3) return false;
  out[at + 3] = val;
  return true;
}

function hexVal(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function parseIPv6(s) {
  if (s.includes('%')) return null; // zones are refused before this
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const h = hexVal(s.charCodeAt(off));
      if (h < 0) break;
      acc = acc * 16 + h;
      if (off > 3 || acc > 0xffff) return null;
    }
    if (off === 0) return null;
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) return null;
      if (i + 4 > 16) return null;
      if (!parseIPv4Fields(s, ip, i)) return null;
      s = '';
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ':' || s.length === 1) return null;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return null;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return null;
  if (i < 16) {
    if (ellipsis < 0) return null;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j];
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) return null;
  return ip;
}

/** parseAddr is netip.ParseAddr: 4 bytes for IPv4, 16 for IPv6, or null. */
export function parseAddr(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') {
      const ip = new Uint8Array(4);
      return parseIPv4Fields(s, ip, 0) ? ip : null;
    }
    if (c === ':') return parseIPv6(s);
    if (c === '%') return null;
  }
  return null;
}

function is4In6(ip) {
  if (ip.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

function masked(ip, bits) {
  const m = Uint8Array.from(ip);
  for (let i = 0; i < m.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    m[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return m;
}

/** formatAddr is netip.Addr.String. */
export function formatAddr(ip) {
  if (ip.length === 4) return ip.join('.');
  if (is4In6(ip)) return '::ffff:' + Array.from(ip.subarray(12)).join('.');
  const g = (k) => (ip[2 * k] << 8) | ip[2 * k + 1];
  let zs = 255;
  let ze = 255;
  for (let k = 0; k < 8; k++) {
    let j = k;
    while (j < 8 && g(j) === 0) j++;
    const l = j - k;
    if (l >= 2 && l > ze - zs) {
      zs = k;
      ze = j;
    }
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === zs) {
      out += '::';
      k = ze;
      if (k >= 8) break;
    } else if (k > 0) out += ':';
    out += g(k).toString(16);
  }
  return out;
}

/**
 * parseClientCidr is ParseClientCIDR: an address (a /32 or /128) or a
 * network without host bits; an IPv4-mapped IPv6 network of at least /96 is
 * taken in its IPv4 form. Returns { addr, bits } or { error }.
 */
export function parseClientCidr(s) {
  const syntax = 'client CIDR must be an IP address or an address/length, such as 203.0.113.0/24';
  if (typeof s !== 'string') return { error: 'must be a string' };
  if (s === '') return { error: 'client CIDR is empty' };
  if (s.includes('%')) return { error: 'client CIDR cannot have an IPv6 zone (%)' };
  let addr;
  let bits;
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    addr = parseAddr(s.slice(0, slash));
    const b = s.slice(slash + 1);
    if (!addr || !/^(0|[1-9][0-9]*)$/.test(b) || b.length > 3) return { error: syntax };
    bits = Number(b);
    if (bits > addr.length * 8) return { error: syntax };
  } else {
    addr = parseAddr(s);
    if (!addr) return { error: syntax };
    bits = addr.length * 8;
  }
  if (is4In6(addr) && bits >= 96) {
    addr = addr.slice(12);
    bits -= 96;
  }
  const m = masked(addr, bits);
  if (m.some((b, i) => b !== addr[i])) {
    return { error: `client CIDR has host bits set: did you mean ${formatAddr(m)}/${bits}?` };
  }
  if (is4In6(addr)) return { error: 'client CIDR must give an IPv4-mapped address in its IPv4 form' };
  return { addr, bits };
}

/** validParam: a signature parameter name is 1-64 unreserved characters. */
export function validParam(p) {
  return typeof p === 'string' && /^[A-Za-z0-9._~-]{1,64}$/.test(p);
}
