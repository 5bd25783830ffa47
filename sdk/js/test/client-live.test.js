// The API client against a running Signet (started by
// tests/sdkjs_test.go): the signing endpoint, the key API, the user API,
// the links API and revocations, and the typed errors (401, 403, 404, 400
// with its field, 409, 429 with Retry-After, and the retry on 429).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BadRequestError,
  Client,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  SignetError,
  Signer,
  UnauthorizedError,
} from '../src/index.js';
import { file, get, live, newKey, skipLive } from '../testlib/helpers.js';

const site = live?.site;
const admin = live && new Client({ baseUrl: site, key: live.adminKey });
let names = 0;
const unique = (what) => `js-${what}-${process.pid}-${++names}`;

// rejects asserts that p rejects with an error of class cls and the fields.
async function rejects(p, cls, fields) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof cls, `${e?.name}: ${e?.message}, want ${cls.name}`);
    assert.ok(e instanceof SignetError);
    assert.equal(e.name, cls.name);
    for (const [k, v] of Object.entries(fields)) {
      if (v instanceof RegExp) assert.match(String(e[k]), v, k);
      else assert.equal(e[k], v, k);
    }
    return true;
  });
}

// signKey creates a site-wide sign key through the client and returns it.
async function signKey(extra = {}) {
  return admin.createKey({ name: unique('key'), permissions: 'sign', scopes: ['/'], ...extra });
}

describe('the Client against Signet', { skip: skipLive }, () => {
  test('the signing endpoint: a file link, with policies', async () => {
    const c = new Client({ baseUrl: site, key: live.signKey });
    const s = await c.sign('/reports/q1.txt', { expiresIn: 300, downloadName: 'Q1.txt', maxUses: 5 });
    assert.deepEqual(Object.keys(s).sort(), ['expires_at', 'folder', 'id', 'path', 'url']);
    assert.equal(s.path, '/reports/q1.txt');
    assert.equal(s.folder, false);
    assert.ok(s.url.startsWith(site + '/reports/q1.txt?sig='));
    const r = await get(s.url);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, file('/reports/q1.txt'));
    assert.match(r.headers.get('content-disposition'), /^attachment; filename="Q1.txt"/);
    // Non-ASCII and reserved characters in the path.
    for (const path of ['/docs/café menu.pdf', '/docs/a+b (1).txt']) {
      const l = await c.sign(path, { expiresIn: 60 });
      assert.equal(l.path, path);
      assert.equal((await get(l.url)).status, 200, path);
    }
  });

  test('the signing endpoint: a folder link, checked by a file', async () => {
    const c = new Client({ baseUrl: site, key: live.signKey });
    for (const path of ['/movie', '/movie/']) {
      const s = await c.sign(path, { expiresIn: 300, folder: true, check: 'index.m3u8' });
      assert.equal(s.path, '/movie/');
      assert.equal(s.folder, true);
      assert.equal((await get(s.path_url + 'hd/seg7.ts')).status, 200);
      assert.equal((await get(s.url.replace('/movie/?', '/movie/seg1.ts?'))).status, 200);
    }
  });

  test('the key API: list, create (offline signing), get, update, delete', async () => {
    const { keys } = await admin.listKeys();
    assert.ok(keys.length >= 5);
    assert.ok(keys.every((k) => !('key' in k)), 'values are never listed');

    const created = await admin.createKey({ name: unique('offline'), permissions: 'sign', scopes: ['/photos/'], offlineSigning: true });
    assert.equal(created.offline_signing, true);
    assert.match(created.key, /^sk_/);
    const signer = new Signer(created.key);
    assert.equal(signer.keyId, created.id, 'the id is derived from the value');
    const url = signer.signUrl({ baseUrl: site, path: '/photos/cat.jpg', expiresIn: 60 });
    assert.equal((await get(url)).status, 200);

    const got = await admin.getKey(created.id);
    assert.equal(got.name, created.name);
    assert.equal(got.offline_signing, true);
    assert.ok(!('key' in got));
    assert.ok(keys.length < (await admin.listKeys()).keys.length);

    const renamed = await admin.updateKey(created.id, { name: created.name + ' renamed', expiresAt: new Date(Date.now() + 3600e3) });
    assert.equal(renamed.name, created.name + ' renamed');
    assert.ok(renamed.expires_at);
    assert.equal((await admin.updateKey(created.id, { expiresAt: null })).expires_at, undefined, 'null removes the expiry');

    // Turning offline signing off ends every link the key signed itself.
    const off = await admin.updateKey(created.id, { offline_signing: false });
    assert.equal(off.offline_signing, undefined);
    const r = await get(url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'invalid_signature');
    // It cannot be turned on again: the value is needed.
    await rejects(admin.updateKey(created.id, { offlineSigning: true }), BadRequestError, { status: 400, field: 'offline_signing' });

    const deleted = await admin.deleteKey(created.id);
    assert.equal(deleted.deleted.id, created.id);
    await rejects(admin.getKey(created.id), NotFoundError, { status: 404, code: 'not_found' });
    await rejects(admin.deleteKey(created.id), NotFoundError, { status: 404 });
  });

  test('camelCase and snake_case options; one of each form', async () => {
    const k = await admin.createKey({ name: unique('snake'), permissions: 'sign', scopes: ['/'], offline_signing: true });
    assert.equal(k.offline_signing, true);
    await assert.rejects(admin.createKey({ name: 'x', offlineSigning: true, offline_signing: true }), TypeError);
    await admin.deleteKey(k.id);
  });

  test('the user API: create, get, list, update, delete', async () => {
    const name = unique('user');
    const u = await admin.createUser({ name, scopes: ['/photos/'], permissions: 'sign', selfService: true });
    assert.equal(u.name, name);
    assert.equal(u.self_service, true);
    await rejects(admin.createUser({ name, scopes: ['/x/'] }), ConflictError, { status: 409, code: 'conflict' });
    assert.equal((await admin.getUser(name)).permissions, 'sign');
    assert.ok((await admin.listUsers()).users.some((x) => x.name === name));

    // A key of the user signs offline within the user's scopes.
    const k = await admin.createKey({ name: unique('user-key'), user: name, offlineSigning: true });
    assert.equal(k.user, name);
    assert.deepEqual(k.access, { scopes: ['/photos/'], permissions: 'sign' });
    const url = new Signer(k.key).signUrl({ baseUrl: site, path: '/photos/cat.jpg', expiresIn: 60 });
    assert.equal((await get(url)).status, 200);
    // Self-service: the user's key manages the user's keys.
    const self = new Client({ baseUrl: site, key: k.key });
    assert.deepEqual((await self.listKeys()).keys.map((x) => x.id), [k.id]);

    // Narrowing the user changes the key's links at once.
    const narrowed = await admin.updateUser(name, { permissions: 'read' });
    assert.equal(narrowed.permissions, 'read');
    assert.equal((await get(url)).status, 403);
    // A user that may not sign gets no offline-signing key.
    await rejects(admin.createKey({ name: unique('no'), user: name, offlineSigning: true }), BadRequestError, { status: 400, field: 'offline_signing', code: 'bad_request' });

    const d = await admin.deleteUser(name);
    assert.equal(d.deleted.name, name);
    assert.deepEqual(d.deleted_keys, [k.id]);
    await rejects(admin.getUser(name), NotFoundError, { status: 404 });
  });

  test('the links API: list with filters and cursors, get, extend, revoke, bulk revoke', async () => {
    const k = await signKey();
    const c = new Client({ baseUrl: site, key: k.key });
    const signed = [];
    for (const path of ['/reports/q1.txt', '/reports/q2.txt', '/photos/cat.jpg']) signed.push(await c.sign(path, { expiresIn: 600 }));

    const page1 = await c.listLinks({ keyId: k.id, limit: 2 });
    assert.equal(page1.links.length, 2);
    assert.notEqual(page1.next, '');
    const page2 = await c.listLinks({ keyId: k.id, limit: 2, cursor: page1.next });
    assert.equal(page2.links.length, 1);
    assert.equal(page2.next, '');
    const ids = [...page1.links, ...page2.links].map((l) => l.id).sort();
    assert.deepEqual(ids, signed.map((s) => s.id).sort());

    const all = [];
    for await (const l of c.links({ limit: 1 })) all.push(l.id);
    assert.deepEqual(all.sort(), ids, 'the iterator follows the cursors');
    const reports = [];
    for await (const l of c.links({ path: '/reports/', active: true })) reports.push(l.path);
    assert.deepEqual(reports.sort(), ['/reports/q1.txt', '/reports/q2.txt']);

    const one = await c.getLink(signed[0].id);
    assert.equal(one.path, '/reports/q1.txt');
    assert.equal(one.key_id, k.id);
    assert.equal(one.active, true);

    const extended = await c.updateLink(signed[0].id, { expiresIn: 3600 });
    assert.ok(Date.parse(extended.expires_at) > Date.parse(one.expires_at));
    const shortened = await c.updateLink(signed[0].id, { expiresAt: new Date(Date.now() + 120e3) });
    assert.ok(Date.parse(shortened.expires_at) < Date.parse(extended.expires_at));
    assert.equal((await get(signed[0].url)).status, 200, 'the same URL, still working');

    const revoked = await c.revokeLink(signed[0].id);
    assert.equal(revoked.revoked, true);
    assert.equal(revoked.active, false);
    const r = await get(signed[0].url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'revoked');
    assert.deepEqual((await c.listLinks({ active: false })).links.map((l) => l.id), [signed[0].id]);

    // Each link counts once, when it is revoked (not again).
    assert.equal((await c.revokeLinks({ path: '/reports/' })).revoked, 1);
    assert.equal((await get(signed[1].url)).status, 403);
    assert.equal((await get(signed[2].url)).status, 200);
    assert.equal((await c.revokeLinks({ all: true })).revoked, 1);
    assert.equal((await get(signed[2].url)).status, 403);
  });

  test('revocations: by URL, key, prefix and id', async () => {
    const k = await signKey();
    const c = new Client({ baseUrl: site, key: k.key });
    const a = await c.sign('/reports/q1.txt', { expiresIn: 600 });
    const byUrl = await c.revoke({ url: a.url });
    assert.deepEqual(Object.keys(byUrl), ['revocation']);
    assert.equal(byUrl.revocation.kind, 'url');
    assert.equal(byUrl.revocation.target, a.id);
    assert.equal((await get(a.url)).status, 403);

    const b = await c.sign('/reports/q2.txt', { expiresIn: 600 });
    const byKey = await c.revoke({ keyId: k.id });
    assert.equal(byKey.revocation.kind, 'key');
    assert.ok(byKey.revocation.before);
    assert.equal((await get(b.url)).status, 403);

    // A sign key may not revoke by prefix or id; an admin key may.
    await rejects(c.revoke({ prefix: '/archive/' }), ForbiddenError, { status: 403, code: 'forbidden' });
    const k2 = await signKey();
    const c2 = new Client({ baseUrl: site, key: k2.key });
    const d = await c2.sign('/archive/2025', { expiresIn: 600, folder: true, check: 'a.txt' });
    const e = await c2.sign('/reports/q1.txt', { expiresIn: 600 });
    assert.equal((await admin.revoke({ id: e.id })).revocation.target, e.id);
    assert.equal((await get(e.url)).status, 403);
    assert.equal((await get(d.path_url + 'a.txt')).status, 200);
    assert.equal((await admin.revoke({ prefix: '/archive/' })).revocation.kind, 'prefix');
    assert.equal((await get(d.path_url + 'a.txt')).status, 403);

  });

  test('errors: 401 for an unknown or malformed key', async () => {
    for (const key of [newKey(), 'sk_nope']) {
      const c = new Client({ baseUrl: site, key });
      await rejects(c.listKeys(), UnauthorizedError, { status: 401, code: 'unauthorized', message: /API key/ });
      await rejects(c.sign('/reports/q1.txt', { expiresIn: 60 }), UnauthorizedError, { status: 401 });
    }
  });

  test('errors: 403 for a key without the right', async () => {
    const c = new Client({ baseUrl: site, key: live.readKey });
    await rejects(c.listKeys(), ForbiddenError, { status: 403, code: 'forbidden' });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 60 }), ForbiddenError, { status: 403, message: /lacks the sign permission/ });
    await rejects(c.listLinks(), ForbiddenError, { status: 403 });
    await rejects(new Client({ baseUrl: site, key: live.signKey }).listUsers(), ForbiddenError, { status: 403 });
    await rejects(new Client({ baseUrl: site, key: live.scopedKey }).sign('/photos/cat.jpg', { expiresIn: 60 }), ForbiddenError, { message: /scope/ });
  });

  test('errors: 404', async () => {
    await rejects(admin.getKey('key_aaaaaaaaaaaaaaaa'), NotFoundError, { status: 404, code: 'not_found' });
    await rejects(admin.getUser('nobody-here'), NotFoundError, { status: 404 });
    await rejects(admin.getLink('AAAAAAAAAAAAAAAAAAAAAA'), NotFoundError, { status: 404 });
    await rejects(admin.sign('/reports/none.txt', { expiresIn: 60 }), NotFoundError, { status: 404, message: /no such file/ });
  });

  test('errors: 400 with the field at fault', async () => {
    const c = new Client({ baseUrl: site, key: live.signKey });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 0 }), BadRequestError, { status: 400, code: 'bad_request', field: 'expires_in', message: /^expires_in: / });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 60, contentType: 'text/html' }), BadRequestError, { field: 'content_type' });
    await rejects(c.sign('/movie', { expiresIn: 60, folder: true, downloadName: 'x' }), BadRequestError, { field: 'download_name' });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 60, clientCidr: '203.0.113.7/24' }), BadRequestError, { field: 'client_cidr', message: /did you mean 203\.0\.113\.0\/24/ });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 60, colour: 'red' }), BadRequestError, { field: 'colour' });
    await rejects(admin.createKey({ name: 'x', scopes: ['relative/'], permissions: 'read' }), BadRequestError, { field: 'scopes' });
    await rejects(admin.createKey({ name: 'x', type: 'public', permissions: 'read', scopes: ['/'], offlineSigning: true }), BadRequestError, { field: 'offline_signing' });
    await rejects(admin.listLinks({ limit: 0 }), BadRequestError, { field: 'limit' });
    const link = await c.sign('/reports/q2.txt', { expiresIn: 60 });
    await rejects(admin.updateLink(link.id, {}), BadRequestError, { field: 'body' });
    await rejects(admin.updateLink(link.id, { expiresIn: 60, expiresAt: new Date() }), BadRequestError, { field: 'body' });
    await rejects(admin.revokeLinks({}), BadRequestError, { field: 'body' });
    await rejects(admin.revoke({ id: 'short' }), BadRequestError, { field: 'id' });
  });

  test('errors: 429 with Retry-After', async () => {
    const k = await signKey();
    const c = new Client({ baseUrl: live.limitedSite, key: k.key });
    // rate_limit key 2 1h: two at once, then one every 30 minutes.
    await c.sign('/reports/q1.txt', { expiresIn: 60 });
    await c.sign('/reports/q1.txt', { expiresIn: 60 });
    await rejects(c.sign('/reports/q1.txt', { expiresIn: 60 }), RateLimitedError, { status: 429, code: 'rate_limit_exceeded' });
    try {
      await c.listKeys();
      assert.fail('not limited');
    } catch (e) {
      assert.ok(e instanceof RateLimitedError);
      assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter > 60 && e.retryAfter <= 1800, `Retry-After ${e.retryAfter}`);
    }
  });

  test('retry on 429: maxRetries waits Retry-After and tries again', async () => {
    const k = await signKey();
    // rate_limit key 1 1s: one at once, then one a second.
    const once = new Client({ baseUrl: live.retrySite, key: k.key });
    await once.sign('/reports/q1.txt', { expiresIn: 60 });
    await rejects(once.sign('/reports/q1.txt', { expiresIn: 60 }), RateLimitedError, { status: 429, retryAfter: 1 });
    const patient = new Client({ baseUrl: live.retrySite, key: k.key, maxRetries: 3 });
    const s = await patient.sign('/reports/q1.txt', { expiresIn: 60 });
    assert.equal((await get(s.url)).status, 200);
  });
});
