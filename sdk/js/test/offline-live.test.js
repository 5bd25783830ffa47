// Links the library signs offline, against a running Signet (started by
// tests/sdkjs_test.go): served with the file's bytes, refused after a
// one-byte change, folder links in both forms, every policy, and the rules
// the server applies to key-signed links.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, signLink, Signer, signUrl } from '../src/index.js';
import { file, flip, get, live, skipLive } from '../testlib/helpers.js';

const signer = live && new Signer(live.offlineKey);
const site = live?.site;

describe('offline links against Signet', { skip: skipLive }, () => {
  test('a file link is served with the file', async () => {
    const url = signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 300 });
    const r = await get(url);
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, file('/reports/q1.txt'));
    assert.equal((await get(url, { method: 'HEAD' })).status, 200, 'HEAD too');
    // signUrl with the key gives a link that works alike.
    assert.equal((await get(signUrl({ key: live.offlineKey, baseUrl: site, path: '/reports/q2.txt', expiresIn: 60 }))).status, 200);
  });

  test('a one-byte change is refused', async () => {
    const url = signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 300, query: { v: 2 } });
    const at = url.indexOf('sig=') + 4;
    const token = url.slice(at);
    const changed = {
      'a byte of the tag': url.slice(0, at) + flip(token, token.length - 10),
      'a byte of the expiry': url.slice(0, at) + flip(token, 30),
      'a byte of the key id': url.slice(0, at) + flip(token, 10),
      'the path': url.replace('/q1.txt', '/q2.txt'),
      'the query': url.replace('v=2', 'v=3'),
      'a parameter added': url + '&x=1',
      'a parameter removed': url.replace('v=2&', ''),
    };
    for (const [what, u] of Object.entries(changed)) {
      const r = await get(u);
      assert.equal(r.status, 403, `${what}: ${u} answered ${r.status}`);
      assert.match(r.code, /^(invalid_signature|malformed_signature)$/, what);
    }
    assert.equal((await get(url)).status, 200, 'the original still works');
    // The same parameters in another order are the same request.
    assert.equal((await get(url.replace('?v=2&sig=', '?sig=') + '&v=2')).status, 200);
  });

  test('another host is refused', async () => {
    const other = site.replace('127.0.0.1', 'localhost');
    const url = signer.signUrl({ baseUrl: other, path: '/reports/q1.txt', expiresIn: 300 });
    // Sent to the same server with Host: 127.0.0.1:port.
    const r = await get(url.replace(other, site));
    assert.equal(r.status, 403);
    assert.equal(r.code, 'invalid_signature');
  });

  test('non-ASCII and reserved characters in the path', async () => {
    for (const path of ['/docs/café menu.pdf', '/docs/a+b (1).txt']) {
      const r = await get(signer.signUrl({ baseUrl: site, path, expiresIn: 60 }));
      assert.equal(r.status, 200, path);
      assert.deepEqual(r.body, file(path));
    }
  });

  test('a query, as pairs or as a string, is bound', async () => {
    const pairs = [['q', 'a b+c'], ['é', 'ü/ß'], ['w', 640], ['empty', '']];
    for (const query of [pairs, 'b=2&a=%31&x=y+z&name=caf%C3%A9', { tag: ['x', 'y'] }]) {
      const url = signer.signUrl({ baseUrl: site, path: '/photos/cat.jpg', expiresIn: 60, query });
      const r = await get(url);
      assert.equal(r.status, 200, `${JSON.stringify(query)}: ${url}`);
      assert.deepEqual(r.body, file('/photos/cat.jpg'));
    }
    const url = signer.signUrl({ baseUrl: site, path: '/photos/cat.jpg', expiresIn: 60, query: { q: 'a b' } });
    assert.ok(url.includes('?q=a%20b&sig='));
    assert.equal((await get(url.replace('q=a%20b', 'q=a+b'))).status, 403, '+ is not a space');
    assert.equal((await get(url.replace('q=a%20b', 'q=a%20%62'))).status, 200, 'an escape of the same byte');
  });

  test('a folder link in the query form', async () => {
    const link = signer.signLink({ baseUrl: site, path: '/movie', folder: true, expiresIn: 600 });
    assert.equal(link.path, '/movie/');
    const token = link.url.slice(link.url.indexOf('sig=') + 4);
    assert.equal(link.url, `${site}/movie/?sig=${token}`);
    for (const [path, query] of [['/movie/index.m3u8', ''], ['/movie/seg1.ts', '_HLS_msn=3&'], ['/movie/hd/seg7.ts', '_HLS_msn=7&_HLS_part=2&']]) {
      const r = await get(`${site}${path}?${query}sig=${token}`);
      assert.equal(r.status, 200, path);
      assert.deepEqual(r.body, file(path));
    }
    for (const path of ['/reports/q1.txt', '/movie2/seg1.ts']) {
      assert.equal((await get(`${site}${path}?sig=${token}`)).status, 403, path);
    }
    assert.equal((await get(`${site}/movie/seg1.ts?sig=${flip(token, token.length - 10)}`)).status, 403, 'a byte changed');
  });

  test('a folder link in the path form', async () => {
    const pathUrl = signer.signUrl({ baseUrl: site, path: '/movie/', folder: true, expiresIn: 600, pathForm: true });
    assert.match(pathUrl, new RegExp(`^${site}/_signet/v1/t/[A-Za-z0-9_-]+/movie/$`));
    for (const rel of ['index.m3u8', 'seg1.ts', 'hd/seg7.ts?_HLS_msn=7']) {
      const r = await get(pathUrl + rel);
      assert.equal(r.status, 200, rel);
      assert.deepEqual(r.body, file('/movie/' + rel.replace(/\?.*/, '')));
    }
    const token = pathUrl.match(/\/t\/([^/]+)\//)[1];
    assert.equal((await get(pathUrl.replace(token, flip(token, token.length - 10)) + 'seg1.ts')).status, 403);
    // A file link's token is not a folder token.
    const fileToken = signer.signUrl({ baseUrl: site, path: '/movie/seg1.ts', expiresIn: 60 }).split('sig=')[1];
    assert.equal((await get(`${site}/_signet/v1/t/${fileToken}/movie/seg1.ts`)).status, 403);
  });

  test('policies: download name, inline, content type', async () => {
    let r = await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60, downloadName: 'Q1 2026 – report.txt' }));
    assert.equal(r.status, 200);
    const cd = r.headers.get('content-disposition');
    assert.match(cd, /^attachment; /);
    assert.ok(cd.includes("filename*=UTF-8''Q1%202026%20%E2%80%93%20report.txt"), cd);
    r = await get(signer.signUrl({ baseUrl: site, path: '/docs/café menu.pdf', expiresIn: 60, inline: true, contentType: 'application/pdf' }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-disposition'), /^inline/);
    assert.equal(r.headers.get('content-type'), 'application/pdf');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(r.body, file('/docs/café menu.pdf'));
  });

  test('policies: client network', async () => {
    for (const cidr of ['127.0.0.1', '127.0.0.0/8']) {
      assert.equal((await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60, clientCidr: cidr }))).status, 200, cidr);
    }
    for (const cidr of ['203.0.113.0/24', '2001:db8::/32']) {
      const r = await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60, clientCidr: cidr }));
      assert.equal(r.status, 403, cidr);
      assert.equal(r.code, 'client_not_allowed');
    }
    const folder = signer.signUrl({ baseUrl: site, path: '/movie/', folder: true, expiresIn: 60, clientCidr: '127.0.0.1/32' });
    assert.equal((await get(folder.replace('/movie/?', '/movie/seg1.ts?'))).status, 200);
  });

  test('policies: max uses, counted from the first use', async () => {
    const link = signer.signLink({ baseUrl: site, path: '/reports/q2.txt', expiresIn: 300, maxUses: 2 });
    assert.equal((await get(link.url, { method: 'HEAD' })).status, 200, 'HEAD before any use');
    assert.equal((await get(link.url)).status, 200);
    assert.equal((await get(link.url)).status, 200);
    const r = await get(link.url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'max_uses_reached');
    // Recorded in the ledger at its first use, listed from then on.
    const seen = await new Client({ baseUrl: site, key: live.offlineKey }).getLink(link.id);
    assert.equal(seen.uses, 2);
    assert.equal(seen.policy.max_uses, 2);
    assert.equal(seen.key_id, signer.keyId);
  });

  test('the server applies the signing rules on use', async () => {
    // A lifetime over the server's max_lifetime.
    let r = await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: live.maxLifetime + 1 }));
    assert.equal(r.status, 403);
    assert.equal(r.code, 'expired');
    assert.equal((await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: live.maxLifetime }))).status, 200);
    // Expired.
    r = await get(signer.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60, now: Math.floor(Date.now() / 1000) - 120 }));
    assert.equal(r.status, 403);
    assert.equal(r.code, 'expired');
    // The key's scope must cover the file.
    const scoped = new Signer(live.scopedKey);
    assert.equal((await get(scoped.signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60 }))).status, 200);
    assert.equal((await get(scoped.signUrl({ baseUrl: site, path: '/photos/cat.jpg', expiresIn: 60 }))).status, 403);
    assert.equal((await get(scoped.signUrl({ baseUrl: site, path: '/reports', folder: true, expiresIn: 60 }).replace('?', 'q1.txt?'))).status, 200);
  });

  test('a key without offline signing cannot sign offline', async () => {
    const r = await get(new Signer(live.signKey).signUrl({ baseUrl: site, path: '/reports/q1.txt', expiresIn: 60 }));
    assert.equal(r.status, 403);
    assert.equal(r.code, 'invalid_signature');
  });

  test('revoked by id, by URL, by prefix', async () => {
    const admin = new Client({ baseUrl: site, key: live.adminKey });
    const own = new Client({ baseUrl: site, key: live.offlineKey });
    const a = signLink({ key: live.offlineKey, baseUrl: site, path: '/photos/cat.jpg', expiresIn: 300 });
    const b = signLink({ key: live.offlineKey, baseUrl: site, path: '/photos/cat.jpg', expiresIn: 300 });
    const c = signLink({ key: live.offlineKey, baseUrl: site, path: '/photos/2026/dog.jpg', expiresIn: 300 });
    for (const l of [a, b, c]) assert.equal((await get(l.url)).status, 200);
    // Not in the ledger (never used with max_uses): the links API does not know them.
    await assert.rejects(own.getLink(a.id), { name: 'NotFoundError', status: 404 });

    const byId = await admin.revoke({ id: a.id });
    assert.equal(byId.revocation.kind, 'url');
    assert.equal(byId.revocation.target, a.id);
    let r = await get(a.url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'revoked');
    assert.equal((await get(b.url)).status, 200, 'another link of the same file');

    assert.equal((await own.revoke({ url: b.url })).revocation.target, b.id, 'its own key revokes it by URL');
    assert.equal((await get(b.url)).status, 403);

    await admin.revoke({ prefix: '/photos/2026/' });
    r = await get(c.url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'revoked');
  });
});
