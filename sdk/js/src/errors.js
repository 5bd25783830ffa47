// Errors of the Signet API, typed by status. Every error Signet answers
// itself is JSON: {"error":{"code":"…","message":"…","field":"…"}}.

/** An error answer of the Signet API. */
export class SignetError extends Error {
  /**
   * @param {number} status the HTTP status
   * @param {string} code the API's error code, such as "forbidden" ("" if the body had none)
   * @param {string} message the API's message
   * @param {{ field?: string, retryAfter?: number | null, body?: string }} [extra]
   */
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = new.target.name;
    /** The HTTP status. */
    this.status = status;
    /** The API's error code, such as "bad_request". */
    this.code = code;
    /** On 400s, the request field at fault ("body" for the body as a whole); else undefined. */
    this.field = extra.field;
    /** Seconds from Retry-After (429, and 503 from a stale store), else null. */
    this.retryAfter = extra.retryAfter ?? null;
  }
}

/** 400: the request is invalid; `field` names the culprit. */
export class BadRequestError extends SignetError {}
/** 401: no key, a malformed, unknown, deleted or expired key. */
export class UnauthorizedError extends SignetError {}
/** 403: the key may not do this (permission, scope, public key, disabled). */
export class ForbiddenError extends SignetError {}
/** 404: no such key, user, link or file. */
export class NotFoundError extends SignetError {}
/** 409: it exists already (a user of that name). */
export class ConflictError extends SignetError {}
/** 429: over the rate limit; `retryAfter` is the seconds to wait. */
export class RateLimitedError extends SignetError {}
/** 503: the store is unavailable; `retryAfter` is set when the instance's view is stale. */
export class UnavailableError extends SignetError {}

const BY_STATUS = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitedError,
  503: UnavailableError,
};

/** parseRetryAfter reads Retry-After: delay seconds, or an HTTP date. */
export function parseRetryAfter(v, now = Date.now()) {
  if (v == null || v === '') return null;
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return null;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

/** errorFor builds the error for a non-2xx answer. */
export function errorFor(status, headers, text) {
  let code = '';
  let message = '';
  let field;
  try {
    const e = JSON.parse(text)?.error;
    if (e && typeof e === 'object') {
      code = typeof e.code === 'string' ? e.code : '';
      message = typeof e.message === 'string' ? e.message : '';
      field = typeof e.field === 'string' ? e.field : undefined;
    }
  } catch {
    // not JSON: a proxy's page, say
  }
  if (message === '') message = `HTTP ${status}` + (text ? `: ${text.slice(0, 200).trim()}` : '');
  const Cls = BY_STATUS[status] ?? SignetError;
  return new Cls(status, code, message, { field, retryAfter: parseRetryAfter(headers.get('retry-after')) });
}
