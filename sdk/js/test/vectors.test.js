// Every vector of verifier/testdata/signed-url-vectors.json: the
// lower-level signer makes each token of `vectors`, also when it signs the
// requests the vectors accept as they were received; signUrl makes each
// URL, path form and token of `offline` from the key value alone.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalQuery, keyIdOf, signLink, signToken, signUrl, Signer } from '../src/index.js';
import { vectors } from '../testlib/helpers.js';

function policyOf(p = {}) {
  return {
    downloadName: p.download_name,
    inline: p.inline,
    contentType: p.content_type,
    maxUses: p.max_uses,
    clientCidr: p.client_cidr,
  };
}

// The request of a check as a server reads it: the decoded path and the
// query without the signature parameter.
function received(requestURI, param) {
  const q = requestURI.indexOf('?');
  const path = decodeURIComponent(q < 0 ? requestURI : requestURI.slice(0, q));
  const query = q < 0 ? '' : requestURI.slice(q + 1);
  const rest = query.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    return canonicalQuery(name + '=') !== param + '=';
  });
  return { path, rawQuery: rest.join('&') };
}

describe('vectors', () => {
  assert.ok(vectors.vectors.length >= 16, 'the vectors file has its vectors');
  for (const v of vectors.vectors) {
    const secret = { id: v.secret.id, key: Buffer.from(v.secret.key_hex, 'hex') };
    const c = v.claims;
    const claims = (target) => ({
      expiresAt: c.expires_at,
      issuedAt: c.issued_at,
      id: c.id,
      keyId: c.key_id,
      prefix: c.prefix,
      policy: policyOf(c.policy),
    });
    test(v.name, () => {
      const t = v.target;
      assert.equal(canonicalQuery(t.raw_query), v.canonical_query, 'canonical query');
      const target = { host: t.host, method: t.method, path: t.path, rawPath: t.raw_path, rawQuery: t.raw_query };
      assert.equal(signToken(secret, claims(), target), v.token);
      // The URL id also as its 16 bytes.
      const idBytes = Buffer.from(c.id, 'base64url');
      assert.equal(signToken(secret, { ...claims(), id: idBytes }, target), v.token);

      let accepted = 0;
      for (const k of v.checks) {
        if (k.error !== '' || !k.request_uri.includes(v.token)) continue;
        const r = received(k.request_uri, 'sig');
        const got = signToken(secret, claims(), {
          host: k.host,
          method: k.method,
          path: r.path,
          // A folder token binds no query: the request's plays no part.
          rawQuery: c.prefix ? '' : r.rawQuery,
        });
        assert.equal(got, v.token, `re-signed as received: ${k.method} ${k.host} ${k.request_uri}`);
        accepted++;
      }
      assert.ok(accepted > 0, 'the vector accepts some request');
    });
  }
});

describe('offline vectors', () => {
  const offline = vectors.offline ?? [];
  test('the vectors file has an offline section', () => {
    assert.ok(offline.length >= 10, `want the offline vectors, got ${offline.length}`);
  });
  for (const v of offline) {
    test(v.name, () => {
      const i = v.inputs;
      const opts = {
        baseUrl: i.base_url,
        path: i.path,
        folder: i.folder,
        expiresIn: i.expires_in,
        now: i.now,
        urlId: i.url_id,
        param: i.param,
        api: i.api,
        query: i.query_pairs ?? i.query,
        ...policyOf(i.policies),
      };
      if (!opts.maxUses) delete opts.maxUses; // 0 in the vectors is no policy
      assert.equal(keyIdOf(v.api_key), v.key_id, 'key id');
      const signer = new Signer(v.api_key);
      assert.equal(signer.keyId, v.key_id);

      assert.equal(signUrl({ ...opts, key: v.api_key }), v.url, 'url');
      assert.equal(signer.signUrl(opts), v.url, 'Signer url');
      const link = signLink({ ...opts, key: v.api_key });
      assert.equal(link.url, v.url);
      assert.equal(link.id, i.url_id);
      assert.equal(link.folder, i.folder);
      assert.equal(link.path, v.claims.prefix || i.path);
      assert.equal(Date.parse(link.expires_at) / 1000, v.claims.expires_at);
      const token = new URL(v.url).searchParams.get(i.param);
      assert.equal(token, v.token);
      if (i.folder) {
        assert.equal(signUrl({ ...opts, key: v.api_key, pathForm: true }), v.path_url, 'path_url');
        assert.equal(link.path_url, v.path_url);
      } else {
        assert.equal(link.path_url, undefined);
      }

      // The same token from the lower-level signer with the derived secret:
      // the secret id and the key id are both the key's id.
      const secret = { id: v.key_id, key: Buffer.from(v.secret_hex, 'hex') };
      const c = v.claims;
      const claims = { expiresAt: c.expires_at, issuedAt: c.issued_at, id: i.url_id, keyId: v.key_id, prefix: c.prefix, policy: policyOf(i.policies) };
      const host = i.base_url.replace(/^https?:\/\//, '').replace(/\/$/, '');
      const u = new URL(v.url);
      const raw = u.search.slice(1).split('&').filter((p) => !p.startsWith(i.param + '=')).join('&');
      assert.equal(signToken(secret, claims, { host, path: c.prefix || i.path, rawQuery: c.prefix ? '' : raw }), v.token);

      for (const k of v.checks ?? []) {
        if (k.error !== '' || !k.request_uri.includes(v.token)) continue;
        const r = received(k.request_uri, i.param);
        const got = signToken(secret, claims, { host: k.host, method: k.method, path: r.path, rawQuery: c.prefix ? '' : r.rawQuery });
        assert.equal(got, v.token, `re-signed as received: ${k.request_uri}`);
      }
    });
  }
});
