// The Client's side of the HTTP exchange, with a local HTTP server that
// records each request and answers what it is told: what the client sends
// (routes, escaping, headers, snake_case bodies), and the answers a single
// Signet on a file store cannot be made to give here (503 with Retry-After
// from a stale Redis view, a proxy's HTML page, a hanging server). Every
// answer Signet gives is tested against Signet in client-live.test.js.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client, RateLimitedError, SignetError, UnavailableError } from '../src/index.js';

let server;
let base;
const seen = [];
let answer = () => [200, { 'content-type': 'application/json' }, '{}'];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const a = answer(req);
      if (a === null) return; // never answer
      const [status, headers, text] = a;
      res.writeHead(status, headers).end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.closeAllConnections?.();
  server.close();
});

const last = () => seen[seen.length - 1];

describe('requests', () => {
  test('routes, escaping and bodies', async () => {
    const c = new Client({ baseUrl: base + '/', key: 'sk_test', api: '/files-api/v1/' });
    const cases = [
      [() => c.sign('/docs/café menu (1).pdf', { expiresIn: 60, downloadName: 'x', maxUses: null, inline: undefined }), 'POST', '/files-api/v1/files/docs/caf%C3%A9%20menu%20%281%29.pdf/signed-url', { expires_in: 60, download_name: 'x', max_uses: null }],
      [() => c.sign('/movie/', { expiresIn: 60, folder: true, check: 'index.m3u8' }), 'POST', '/files-api/v1/files/movie/signed-url', { expires_in: 60, folder: true, check: 'index.m3u8' }],
      [() => c.listKeys(), 'GET', '/files-api/v1/keys', undefined],
      [() => c.getKey('key_a/b'), 'GET', '/files-api/v1/keys/key_a%2Fb', undefined],
      [() => c.createKey({ name: 'n', offlineSigning: true, expiresAt: new Date(0) }), 'POST', '/files-api/v1/keys', { name: 'n', offline_signing: true, expires_at: '1970-01-01T00:00:00.000Z' }],
      [() => c.updateKey('key_x', { expiresAt: null }), 'PATCH', '/files-api/v1/keys/key_x', { expires_at: null }],
      [() => c.deleteKey('key_x'), 'DELETE', '/files-api/v1/keys/key_x', undefined],
      [() => c.listUsers(), 'GET', '/files-api/v1/users', undefined],
      [() => c.getUser('alice'), 'GET', '/files-api/v1/users/alice', undefined],
      [() => c.createUser({ name: 'alice', selfService: true }), 'POST', '/files-api/v1/users', { name: 'alice', self_service: true }],
      [() => c.updateUser('alice', { scopes: ['/a/'] }), 'PATCH', '/files-api/v1/users/alice', { scopes: ['/a/'] }],
      [() => c.deleteUser('alice'), 'DELETE', '/files-api/v1/users/alice', undefined],
      [() => c.listLinks({ path: '/a b/', keyId: 'key_x', active: false, limit: 5, cursor: undefined }), 'GET', '/files-api/v1/links?path=%2Fa+b%2F&key_id=key_x&active=false&limit=5', undefined],
      [() => c.getLink('abc-_'), 'GET', '/files-api/v1/links/abc-_', undefined],
      [() => c.updateLink('abc', { expiresIn: 60 }), 'PATCH', '/files-api/v1/links/abc', { expires_in: 60 }],
      [() => c.revokeLink('abc'), 'DELETE', '/files-api/v1/links/abc', undefined],
      [() => c.revokeLinks({ keyId: 'key_x' }), 'POST', '/files-api/v1/links/revoke', { key_id: 'key_x' }],
      [() => c.revoke({ prefix: '/a/' }), 'POST', '/files-api/v1/revocations', { prefix: '/a/' }],
    ];
    for (const [call, method, url, json] of cases) {
      await call();
      const r = last();
      assert.equal(r.method, method, url);
      assert.equal(r.url, url);
      assert.equal(r.headers.authorization, 'Bearer sk_test');
      assert.equal(r.headers.accept, 'application/json');
      if (json === undefined) {
        assert.equal(r.body, '', url);
        assert.equal(r.headers['content-type'], undefined);
      } else {
        assert.deepEqual(JSON.parse(r.body), json, url);
        assert.equal(r.headers['content-type'], 'application/json');
      }
    }
  });

  test('the links iterator follows next until it is empty', async () => {
    const pages = { '': ['a', 'b'], c1: ['c'], c2: [] };
    const next = { '': 'c1', c1: 'c2', c2: '' };
    answer = (req) => {
      const cursor = new URL(req.url, base).searchParams.get('cursor') ?? '';
      return [200, { 'content-type': 'application/json' }, JSON.stringify({ links: pages[cursor].map((id) => ({ id })), next: next[cursor] })];
    };
    const c = new Client({ baseUrl: base, key: 'sk_test' });
    const ids = [];
    for await (const l of c.links({ user: 'alice' })) ids.push(l.id);
    assert.deepEqual(ids, ['a', 'b', 'c']);
    assert.match(last().url, /^\/_signet\/v1\/links\?user=alice&cursor=c2$/);
    answer = () => [200, { 'content-type': 'application/json' }, '{}'];
  });

  test('options are checked', async () => {
    assert.throws(() => new Client({ baseUrl: 'localhost:8080', key: 'k' }), /baseUrl/);
    assert.throws(() => new Client({ baseUrl: base }), /key/);
    assert.throws(() => new Client({ baseUrl: base, key: 'k', api: 'x' }), /api/);
    assert.throws(() => new Client({ baseUrl: base, key: 'k', fetch: 5 }), /fetch/);
    assert.throws(() => new Client({ baseUrl: base, key: 'k', timeoutMs: 0 }), RangeError);
    assert.throws(() => new Client({ baseUrl: base, key: 'k', maxRetries: -1 }), RangeError);
    const c = new Client({ baseUrl: base, key: 'k' });
    const sent = seen.length;
    await assert.rejects(c.getKey(''), TypeError);
    await assert.rejects(c.sign('reports/q1.txt', { expiresIn: 60 }), /absolute path/);
    await assert.rejects(c.createKey([1]), TypeError);
    await assert.rejects(c.revoke({}), TypeError);
    await assert.rejects(c.revoke({ url: 'u', id: 'i' }), TypeError);
    assert.equal(seen.length, sent, 'nothing was sent');
  });
});

describe('answers Signet cannot be made to give here', () => {
  test('503 with Retry-After, retried', async () => {
    let n = 0;
    answer = () => (++n === 1
      ? [503, { 'content-type': 'application/json', 'retry-after': '1' }, '{"error":{"code":"store_unavailable","message":"the key store is unavailable; try again"}}']
      : [200, { 'content-type': 'application/json' }, '{"keys":[]}']);
    await assert.rejects(new Client({ baseUrl: base, key: 'k' }).listKeys(), (e) => e instanceof UnavailableError && e.status === 503 && e.retryAfter === 1 && e.code === 'store_unavailable');
    n = 0;
    assert.deepEqual(await new Client({ baseUrl: base, key: 'k', maxRetries: 1 }).listKeys(), { keys: [] });
    assert.equal(n, 2);
  });

  test('503 without Retry-After is not retried', async () => {
    let n = 0;
    answer = () => (++n, [503, { 'content-type': 'application/json' }, '{"error":{"code":"store_unavailable","message":"m"}}']);
    await assert.rejects(new Client({ baseUrl: base, key: 'k', maxRetries: 3 }).sign('/a', { expiresIn: 1 }), (e) => e instanceof UnavailableError && e.retryAfter === null);
    assert.equal(n, 1);
  });

  test('Retry-After as an HTTP date', async () => {
    answer = () => [429, { 'retry-after': new Date(Date.now() + 5000).toUTCString() }, ''];
    await assert.rejects(new Client({ baseUrl: base, key: 'k' }).listKeys(), (e) => e instanceof RateLimitedError && e.retryAfter >= 4 && e.retryAfter <= 6 && e.code === '');
  });

  test('a body that is not JSON', async () => {
    answer = () => [502, { 'content-type': 'text/html' }, '<html><body>Bad Gateway</body></html>'];
    await assert.rejects(new Client({ baseUrl: base, key: 'k' }).listKeys(), (e) => e.constructor === SignetError && e.status === 502 && e.code === '' && /^HTTP 502: <html>/.test(e.message));
    answer = () => [200, { 'content-type': 'text/html' }, '<html>'];
    await assert.rejects(new Client({ baseUrl: base, key: 'k' }).listKeys(), (e) => e instanceof SignetError && /not JSON/.test(e.message));
  });

  test('timeoutMs aborts a request that hangs', async () => {
    answer = () => null;
    await assert.rejects(new Client({ baseUrl: base, key: 'k', timeoutMs: 200 }).listKeys(), (e) => e.name === 'TimeoutError' || e.name === 'AbortError');
    answer = () => [200, { 'content-type': 'application/json' }, '{}'];
  });

  test('a fetch of its own', async () => {
    const calls = [];
    const fetch = async (url, init) => {
      calls.push([url, init.method]);
      return { status: 200, headers: { get: () => null }, text: async () => '{"users":[]}' };
    };
    assert.deepEqual(await new Client({ baseUrl: 'https://files.example.com', key: 'k', fetch }).listUsers(), { users: [] });
    assert.deepEqual(calls, [['https://files.example.com/_signet/v1/users', 'GET']]);
  });
});
