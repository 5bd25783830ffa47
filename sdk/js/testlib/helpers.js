// Shared by the tests in test/ (kept outside it, so that node --test does
// not run it as a test file): key values, the test vectors, and the environment
// that tests/sdkjs_test.go sets when it runs these tests against a
// running Signet.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** crc32 is CRC-32 (IEEE), written here independently of the library. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** newKey returns a well-formed API key value (random, valid checksum). */
export function newKey(prefix = 'sk_', random = randomBytes(32)) {
  const raw = Buffer.alloc(36);
  Buffer.from(random).copy(raw);
  raw.writeUInt32BE(crc32(Buffer.concat([Buffer.from(prefix), raw.subarray(0, 32)])), 32);
  return prefix + raw.toString('base64url');
}

const vectorsFile = process.env.SIGNET_VECTORS ?? new URL('../../../verifier/testdata/signed-url-vectors.json', import.meta.url);

/** vectors is verifier/testdata/signed-url-vectors.json. */
export const vectors = JSON.parse(readFileSync(vectorsFile, 'utf8'));

/**
 * live is the running Signet that tests/sdkjs_test.go started, or null
 * when these tests run on their own (the tests that need it then skip).
 * Once SIGNET_TEST_SITE is set, every variable must be.
 */
export const live = (() => {
  if (!process.env.SIGNET_TEST_SITE) return null;
  const need = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set (tests/sdkjs_test.go sets every SIGNET_TEST_* variable)`);
    return v;
  };
  return {
    site: need('SIGNET_TEST_SITE'), // http://127.0.0.1:port, no rate limits
    limitedSite: need('SIGNET_TEST_LIMITED_SITE'), // rate_limit key 2 1h
    retrySite: need('SIGNET_TEST_RETRY_SITE'), // rate_limit key 1 1s
    admin: need('SIGNET_TEST_ADMIN'), // http://127.0.0.1:port of the admin API
    root: need('SIGNET_TEST_ROOT'), // the directory the sites serve
    maxLifetime: Number(need('SIGNET_TEST_MAX_LIFETIME')), // seconds
    offlineKey: need('SIGNET_TEST_OFFLINE_KEY'), // secret, sign over /, offline signing
    signKey: need('SIGNET_TEST_SIGN_KEY'), // secret, sign over /, no offline signing
    adminKey: need('SIGNET_TEST_ADMIN_KEY'), // secret, admin over / (a site administrator)
    readKey: need('SIGNET_TEST_READ_KEY'), // secret, read over /
    scopedKey: need('SIGNET_TEST_SCOPED_KEY'), // secret, sign over /reports/, offline signing
  };
})();

export const skipLive = live ? false : 'needs a running Signet: run by tests/sdkjs_test.go (go test -run JS ./tests)';

/** file returns the bytes of a file the test sites serve. */
export function file(path) {
  return readFileSync(live.root + path);
}

/** get fetches url without following redirects and returns status, headers and body bytes. */
export async function get(url, init = {}) {
  const resp = await fetch(url, { redirect: 'manual', ...init });
  const body = Buffer.from(await resp.arrayBuffer());
  let code = '';
  if (resp.headers.get('content-type')?.startsWith('application/json')) {
    try {
      code = JSON.parse(body.toString()).error?.code ?? '';
    } catch {
      // not an error body
    }
  }
  return { status: resp.status, headers: resp.headers, body, code };
}

/** flip returns s with the character at i replaced by another of the base64url alphabet. */
export function flip(s, i) {
  const c = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}
