// Type definitions for signet-client. Hand-written; docs/client-js.md
// describes every option.

// ---------------------------------------------------------------------------
// Offline signing
// ---------------------------------------------------------------------------

/** A query: a raw string (used byte for byte), an object, or [name, value] pairs. */
export type QueryValue = string | number | boolean | bigint;
export type Query =
  | string
  | Iterable<readonly [string, QueryValue]>
  | { readonly [name: string]: QueryValue | readonly QueryValue[] | undefined };

/** The link policies, bound into the token. */
export interface Policies {
  /** Serve the file as a download with this name (Content-Disposition: attachment). File links only. */
  downloadName?: string;
  /** Content-Disposition: inline instead of attachment. File links only. */
  inline?: boolean;
  /** Serve the file with this Content-Type (no type a browser runs as a page or script). File links only. */
  contentType?: string;
  /** How many downloads the link allows, 1 to 1,000,000 (counted from the first use). */
  maxUses?: number | null;
  /** The client address or network the link works from, such as "203.0.113.0/24". */
  clientCidr?: string;
}

export interface SignUrlOptions extends Policies {
  /** scheme://host[:port] of the site, no path (a trailing "/" is ignored). */
  baseUrl: string;
  /** The decoded path, such as "/reports/2026/q1.pdf" or "/photos/café menu.jpg". */
  path: string;
  /** The lifetime in whole seconds, 1 to 604800 (7 days); the server may cap it lower. */
  expiresIn: number;
  /** A folder link for path and everything under it. Default false. */
  folder?: boolean;
  /** File links only: the query the link carries and binds. */
  query?: Query;
  /** The signature parameter. Default "sig". */
  param?: string;
  /** The handler's api prefix, for a folder link's path form. Default "/_signet/v1". */
  api?: string;
  /** signUrl returns the folder link's path form ({api}/t/{token}/folder/). */
  pathForm?: boolean;
  /** The issue time: a Date or unix seconds. Default: now. */
  now?: Date | number;
  /** The link's id: 16 bytes or their 22 characters of base64url. Default: 16 random bytes. */
  urlId?: string | Uint8Array;
}

/** signUrl with the key to sign with. */
export interface SignUrlWithKeyOptions extends SignUrlOptions {
  /** The secret API key value (sk_…), created with offline signing. */
  key: string;
}

/** A link, described as the signing endpoint describes it. */
export interface SignedLink {
  url: string;
  /** Folder links only: the path form. */
  path_url?: string;
  /** What the link grants, decoded: the file's path, or the folder ending in "/". */
  path: string;
  folder: boolean;
  /** RFC 3339, seconds. */
  expires_at: string;
  /** The link's id (22 characters of base64url), for revocation. */
  id: string;
}

/** Signs links with one API key; derives its id and secret once. */
export class Signer {
  /** @throws TypeError for a value that is not a well-formed secret key */
  constructor(key: string);
  /** The key's id (key_…). */
  readonly keyId: string;
  /** The link's URL, or with folder and pathForm its path form. */
  signUrl(opts: SignUrlOptions): string;
  /** The link as { url, path_url, path, folder, expires_at, id }. */
  signLink(opts: SignUrlOptions): SignedLink;
}

/** Signs a link offline with the API key and returns its URL. */
export function signUrl(opts: SignUrlWithKeyOptions): string;
/** signUrl returning { url, path_url, path, folder, expires_at, id }. */
export function signLink(opts: SignUrlWithKeyOptions): SignedLink;

/** The id of the API key with this value (checked first). */
export function keyIdOf(key: string): string;

/** The canonical form of a raw query, without the pairs named skip. */
export function canonicalQuery(rawQuery: string, skip?: string): string;

/** Escapes each byte of the UTF-8 form of s that is not unreserved and not "/". */
export function escapePath(s: string): string;

/** A signing secret for signToken. */
export interface Secret {
  /** 1–32 characters of [A-Za-z0-9_-]. */
  id: string;
  /** At least 32 bytes. */
  key: Uint8Array;
}

/** What a token asserts, for signToken. */
export interface Claims {
  /** Unix seconds. */
  expiresAt: number;
  /** Unix seconds. */
  issuedAt: number;
  /** The URL id: 22 characters of base64url, or 16 bytes. */
  id: string | Uint8Array;
  /** The issuing key's id; "" for none. */
  keyId?: string;
  /** A granted path prefix (a folder token); "" for an exact token. */
  prefix?: string;
  policy?: Omit<Policies, 'maxUses'> & { maxUses?: number };
}

/** The request a token is bound to, for signToken. */
export interface Target {
  host: string;
  method?: 'GET' | 'HEAD';
  /** The decoded path. */
  path: string;
  /** The escaped path, when it differs from the default encoding. */
  rawPath?: string;
  /** The raw query, without the signature parameter. */
  rawQuery?: string;
}

/** The lower-level signer (the Go verifier's Sign): explicit secret and claims. */
export function signToken(secret: Secret, claims: Claims, target: Target): string;

// ---------------------------------------------------------------------------
// The API client
// ---------------------------------------------------------------------------

/** What the Client needs of fetch; globalThis.fetch fits. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: any },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export interface ClientOptions {
  /** scheme://host[:port] of the site. */
  baseUrl: string;
  /** The API key value. */
  key: string;
  /** The handler's api prefix. Default "/_signet/v1". */
  api?: string;
  /** Default globalThis.fetch. */
  fetch?: FetchLike;
  /** Abort each request after this many milliseconds. */
  timeoutMs?: number;
  /** Retry a 429 (or a 503 with Retry-After) this many times, after Retry-After. Default 0. */
  maxRetries?: number;
}

export type Permissions = 'none' | 'read' | 'sign' | 'admin';
export type Timestamp = string;

export interface Access {
  scopes: string[];
  permissions: Permissions;
}

/** A key as the API shows it (never its value). */
export interface Key {
  id: string;
  name: string;
  type: 'secret' | 'public';
  user?: string;
  scopes: string[];
  permissions: Permissions | '';
  hint: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  expires_at?: Timestamp;
  last_used_at?: Timestamp;
  /** Present (true) when the key signs links offline. */
  offline_signing?: true;
  access: Access;
}

/** A new key, with its value in `key` (shown this once). */
export interface CreatedKey extends Key {
  key: string;
}

export interface CreateKeyFields {
  name: string;
  type?: 'secret' | 'public';
  user?: string;
  scopes?: string[];
  permissions?: Permissions;
  expiresAt?: Date | string;
  /** Let the key sign links offline (a secret key). */
  offlineSigning?: boolean;
  [field: string]: unknown;
}

export interface UpdateKeyFields {
  name?: string;
  user?: string;
  scopes?: string[];
  permissions?: Permissions;
  /** null removes the expiry. */
  expiresAt?: Date | string | null;
  offlineSigning?: boolean;
  [field: string]: unknown;
}

export interface User {
  name: string;
  scopes: string[];
  permissions: Permissions;
  self_service: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CreateUserFields {
  name: string;
  scopes?: string[];
  permissions?: Permissions;
  selfService?: boolean;
  [field: string]: unknown;
}

export interface UpdateUserFields {
  scopes?: string[];
  permissions?: Permissions;
  selfService?: boolean;
  [field: string]: unknown;
}

export interface SignFields extends Policies {
  /** The lifetime in seconds. */
  expiresIn: number;
  folder?: boolean;
  /** Folder links: a file in the folder the origin must have, such as "index.m3u8". */
  check?: string;
  [field: string]: unknown;
}

export interface LinkPolicy {
  download_name?: string;
  inline?: true;
  content_type?: string;
  max_uses?: number;
  client_cidr?: string;
}

/** A link in the ledger. */
export interface Link {
  id: string;
  path: string;
  folder: boolean;
  key_id: string;
  user: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  policy: LinkPolicy;
  uses: number;
  last_used: Timestamp | null;
  revoked: boolean;
  active: boolean;
}

export interface LinkFilters {
  path?: string;
  keyId?: string;
  user?: string;
  active?: boolean;
  limit?: number;
  cursor?: string;
  [field: string]: unknown;
}

export type LinkPatch = { expiresIn: number; expiresAt?: never } | { expiresAt: Date | string; expiresIn?: never };

export interface BulkRevokeFilter {
  path?: string;
  keyId?: string;
  user?: string;
  all?: boolean;
  [field: string]: unknown;
}

export type RevokeTarget = { url: string } | { id: string } | { keyId: string } | { prefix: string };

export interface Revocation {
  kind: 'url' | 'key' | 'prefix';
  target: string;
  before?: Timestamp;
  expires_at: Timestamp;
}

/** A client of one Signet site's public API. Every method resolves to the API's JSON. */
export class Client {
  constructor(opts: ClientOptions);

  /** One request below the api prefix (path escaped), resolving to the answer's JSON. */
  request<T = unknown>(method: string, path: string, opts?: { query?: Record<string, unknown>; json?: unknown }): Promise<T>;

  /** POST {api}/files/{path}/signed-url */
  sign(path: string, opts: SignFields): Promise<SignedLink>;

  listKeys(): Promise<{ keys: Key[] }>;
  getKey(id: string): Promise<Key>;
  createKey(fields: CreateKeyFields): Promise<CreatedKey>;
  updateKey(id: string, fields: UpdateKeyFields): Promise<Key>;
  deleteKey(id: string): Promise<{ deleted: Key }>;

  listUsers(): Promise<{ users: User[] }>;
  getUser(name: string): Promise<User>;
  createUser(fields: CreateUserFields): Promise<User>;
  updateUser(name: string, fields: UpdateUserFields): Promise<User>;
  deleteUser(name: string): Promise<{ deleted: User; deleted_keys: string[] }>;

  listLinks(filters?: LinkFilters): Promise<{ links: Link[]; next: string }>;
  /** Every link the filters select, page after page. */
  links(filters?: LinkFilters): AsyncGenerator<Link, void, undefined>;
  getLink(id: string): Promise<Link>;
  updateLink(id: string, patch: LinkPatch): Promise<Link>;
  revokeLink(id: string): Promise<Link>;
  revokeLinks(filter: BulkRevokeFilter): Promise<{ revoked: number }>;

  revoke(what: RevokeTarget): Promise<{ revocation: Revocation } | { already_expired: true }>;
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** An error answer of the Signet API. */
export class SignetError extends Error {
  constructor(status: number, code: string, message: string, extra?: { field?: string; retryAfter?: number | null });
  /** The HTTP status. */
  readonly status: number;
  /** The API's error code, such as "bad_request" ("" if the answer had none). */
  readonly code: string;
  /** On 400s: the request field at fault ("body" for the body as a whole). */
  readonly field: string | undefined;
  /** Seconds from Retry-After (429; 503 from a stale store), else null. */
  readonly retryAfter: number | null;
}
/** 400 */
export class BadRequestError extends SignetError {}
/** 401 */
export class UnauthorizedError extends SignetError {}
/** 403 */
export class ForbiddenError extends SignetError {}
/** 404 */
export class NotFoundError extends SignetError {}
/** 409 */
export class ConflictError extends SignetError {}
/** 429: `retryAfter` is the seconds to wait. */
export class RateLimitedError extends SignetError {
  readonly retryAfter: number;
}
/** 503 */
export class UnavailableError extends SignetError {}
