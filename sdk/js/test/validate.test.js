// What the signer checks before it hands out a link (the Go signer's checks
// and Signet's signing rules, docs/signed-urls.md), what it builds from
// each form of its options, and what its tokens carry.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalQuery, escapePath, keyIdOf, signLink, signToken, signUrl, Signer } from '../src/index.js';
import { newKey } from '../testlib/helpers.js';

const key = newKey();
const base = { baseUrl: 'https://files.example.com', path: '/reports/q1.pdf', expiresIn: 300, key };

// decode reads a version-1 token (docs/signed-urls.md, "Token format").
function decode(token) {
  const b = Buffer.from(token, 'base64url');
  let at = 0;
  const version = b[at++];
  const sidLen = b[at++];
  const secretId = b.toString('latin1', at, (at += sidLen));
  const expiresAt = Number(b.readBigUInt64BE(at));
  const issuedAt = Number(b.readBigUInt64BE(at + 8));
  at += 16;
  const id = b.subarray(at, (at += 16)).toString('base64url');
  const kidLen = b[at++];
  const keyId = b.toString('latin1', at, (at += kidLen));
  const constraints = [];
  while (at < b.length - 32) {
    const type = b[at];
    const len = b.readUInt16BE(at + 1);
    constraints.push({ type, value: b.subarray(at + 3, at + 3 + len) });
    at += 3 + len;
  }
  assert.equal(at, b.length - 32, 'constraints end where the tag starts');
  return { version, secretId, expiresAt, issuedAt, id, keyId, constraints };
}

const tokenOf = (url, param = 'sig') => new URL(url).searchParams.get(param);

describe('the key', () => {
  test('a secret key signs; its id is derived from its value', () => {
    const s = new Signer(key);
    assert.match(s.keyId, /^key_[a-z2-7]{16}$/);
    assert.equal(s.keyId, keyIdOf(key));
    const t = decode(tokenOf(s.signUrl(base)));
    assert.equal(t.version, 1);
    assert.equal(t.secretId, s.keyId, 'secret id = key id: the token is key-signed');
    assert.equal(t.keyId, s.keyId);
  });
  const bad = [
    [undefined, /key: must be the API key value/],
    [42, /key: must be the API key value/],
    ['', /malformed API key/],
    ['sk_short', /malformed API key/],
    [key + 'x', /malformed API key/],
    [' ' + key.slice(1), /malformed API key/],
    ['xk_' + key.slice(3), /malformed API key/],
    [key.slice(0, 10) + (key[10] === 'A' ? 'B' : 'A') + key.slice(11), /bad checksum/],
    [key.slice(0, 50) + '+', /malformed API key/],
    [newKey('pk_'), /public keys cannot sign/],
  ];
  for (const [k, re] of bad) {
    test(`refused: ${JSON.stringify(k)?.slice(0, 20)}`, () => {
      assert.throws(() => new Signer(k), (e) => e instanceof TypeError && re.test(e.message));
      assert.throws(() => signUrl({ ...base, key: k }), TypeError);
      assert.throws(() => keyIdOf(k), TypeError);
    });
  }
  test('the key value never appears in an error', () => {
    const k = key.slice(0, 10) + (key[10] === 'A' ? 'B' : 'A') + key.slice(11);
    try {
      new Signer(k);
      assert.fail('no error');
    } catch (e) {
      assert.ok(!e.message.includes(k.slice(3)));
    }
  });
});

describe('the base URL', () => {
  for (const b of ['https://files.example.com', 'https://files.example.com/', 'http://127.0.0.1:8080', 'HTTPS://Files.Example.COM:8443', 'http://[2001:db8::1]:8080']) {
    test(`accepted: ${b}`, () => {
      const u = signUrl({ ...base, baseUrl: b });
      assert.ok(u.startsWith(b.replace(/\/$/, '') + '/reports/q1.pdf?sig='), u);
    });
  }
  for (const b of ['files.example.com', 'https://files.example.com/files', 'https://user@files.example.com', 'ftp://files.example.com', 'https://files.example.com?x=1', 'https://files.example.com#x', 'https://', 'https://a b', 42]) {
    test(`refused: ${b}`, () => {
      assert.throws(() => signUrl({ ...base, baseUrl: b }), /baseUrl: /);
    });
  }
  test('the host is bound as the MAC normalises it', () => {
    const opts = { ...base, now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' };
    const a = tokenOf(signUrl({ ...opts, baseUrl: 'https://Files.Example.COM:443' }));
    const b = tokenOf(signUrl({ ...opts, baseUrl: 'https://files.example.com' }));
    const c = tokenOf(signUrl({ ...opts, baseUrl: 'https://files.example.com:8443' }));
    assert.equal(a, b);
    assert.notEqual(b, c);
  });
});

describe('paths', () => {
  // Decoded paths that CheckPath refuses (docs/signed-urls.md, "Paths").
  const refused = [
    'reports/q1.pdf', '', '/a/./b.pdf', '/a/../a/b.pdf', '/a/b.pdf/..', '/a//b.pdf', '//a/b.pdf',
    '/a/b.pdf\x00', '/a/b\x00.pdf', '/a/b.pdf\t', '/a\\b.pdf', '/a/b.pdf ', '/a/b.pdf.', '/a/...',
    '/a\u2215b.pdf', '/a\uff0fb.pdf', '/a\uff0e\uff0e/b', '/a/..;/b.pdf', '/a/..;x/b.pdf', '/a/;x/b',
    '/a/%2e%2e/b.pdf', '/a/%2F', '/a/%u002e', '/a/b.pdf\u0085', '/a/b\x7f', '/a/x\u3000/b', '/a/x\u2003',
    '/a/\ud800.pdf', '/a/\udc00',
  ];
  for (const p of refused) {
    test(`refused: ${JSON.stringify(p)}`, () => {
      assert.throws(() => signUrl({ ...base, path: p }), (e) => e instanceof TypeError && e.message.startsWith('path: '));
    });
  }
  const accepted = [
    ['/a/b.pdf', '/a/b.pdf'],
    ['/', '/'],
    ['/a/b.pdf;x', '/a/b.pdf%3Bx'],
    ['/a;x/b.pdf', '/a%3Bx/b.pdf'],
    ['/a/\uff42.pdf', '/a/%EF%BD%82.pdf'],
    ['/a/b\u200b.pdf', '/a/b%E2%80%8B.pdf'],
    ['/100%.txt', '/100%25.txt'],
    ['/docs/café menu (v2) & notes+100%.pdf', '/docs/caf%C3%A9%20menu%20%28v2%29%20%26%20notes%2B100%25.pdf'],
    ["/a/!'*~._-", '/a/%21%27%2A~._-'],
    ['/emoji/\u{1f600}.png', '/emoji/%F0%9F%98%80.png'],
    ['/dir/', '/dir/'],
  ];
  for (const [p, escaped] of accepted) {
    test(`accepted: ${JSON.stringify(p)}`, () => {
      const u = signUrl({ ...base, path: p });
      assert.equal(u.slice(base.baseUrl.length, u.indexOf('?')), escaped);
      assert.equal(escapePath(p), escaped);
    });
  }
  test('at most 4096 bytes', () => {
    signUrl({ ...base, path: '/' + 'a'.repeat(4095) });
    assert.throws(() => signUrl({ ...base, path: '/' + 'a'.repeat(4096) }), RangeError);
    assert.throws(() => signUrl({ ...base, path: '/' + 'é'.repeat(2048) }), RangeError);
  });
  test('not a string', () => {
    assert.throws(() => signUrl({ ...base, path: undefined }), TypeError);
    assert.throws(() => signUrl({ ...base, path: ['/a'] }), TypeError);
  });
});

describe('lifetime and time', () => {
  test('expiresIn is whole seconds from 1 to 7 days', () => {
    for (const ok of [1, 60, 604800]) signUrl({ ...base, expiresIn: ok });
    for (const n of [0, -1, 604801]) assert.throws(() => signUrl({ ...base, expiresIn: n }), RangeError);
    for (const n of [1.5, '60', undefined, null, NaN, Infinity]) assert.throws(() => signUrl({ ...base, expiresIn: n }), TypeError);
  });
  test('issued now, expiring expiresIn later', () => {
    const before = Math.floor(Date.now() / 1000);
    const t = decode(tokenOf(signUrl({ ...base, expiresIn: 300 })));
    const after = Math.floor(Date.now() / 1000);
    assert.ok(t.issuedAt >= before && t.issuedAt <= after);
    assert.equal(t.expiresAt, t.issuedAt + 300);
  });
  test('now: a Date or unix seconds, rounded down', () => {
    assert.equal(decode(tokenOf(signUrl({ ...base, now: new Date('2026-01-01T10:00:00.999Z') }))).issuedAt, 1767261600);
    assert.equal(decode(tokenOf(signUrl({ ...base, now: 1767261600.7 }))).issuedAt, 1767261600);
    for (const n of ['2026-01-01', {}, NaN]) assert.throws(() => signUrl({ ...base, now: n }), TypeError);
    assert.throws(() => signUrl({ ...base, now: 0 }), RangeError);
  });
  test('signLink gives expires_at in RFC 3339 seconds and the id', () => {
    const l = signLink({ ...base, now: 1767261600, expiresIn: 3600 });
    assert.equal(l.expires_at, '2026-01-01T11:00:00Z');
    assert.match(l.id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(decode(tokenOf(l.url)).id, l.id);
    assert.deepEqual(Object.keys(l).sort(), ['expires_at', 'folder', 'id', 'path', 'url']);
  });
  test('every link has its own random id', () => {
    const s = new Signer(key);
    const ids = new Set();
    for (let i = 0; i < 2000; i++) ids.add(s.signLink(base).id);
    assert.equal(ids.size, 2000);
  });
  test('urlId: 22 characters of base64url or 16 bytes', () => {
    const bytes = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const a = signUrl({ ...base, now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' });
    const b = signUrl({ ...base, now: 1767261600, urlId: bytes });
    assert.equal(a, b);
    for (const bad of ['AAECAwQFBgcICQoLDA0ODx', 'AAECAwQFBgcICQoLDA0OD', 'AAECAwQFBgcICQoLDA0OD=', Buffer.alloc(15), 16]) {
      assert.throws(() => signUrl({ ...base, urlId: bad }), TypeError);
    }
  });
});

describe('folder links', () => {
  test('/movie and /movie/ give the prefix /movie/ and the same token', () => {
    const opts = { ...base, folder: true, now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' };
    const a = signLink({ ...opts, path: '/movie' });
    const b = signLink({ ...opts, path: '/movie/' });
    assert.equal(a.url, b.url);
    assert.equal(a.path, '/movie/');
    assert.ok(a.url.startsWith('https://files.example.com/movie/?sig='));
    const t = decode(tokenOf(a.url));
    assert.deepEqual(t.constraints.map((c) => [c.type, c.value.toString()]), [[1, '/movie/']]);
    assert.equal(a.path_url, `https://files.example.com/_signet/v1/t/${tokenOf(a.url)}/movie/`);
    assert.equal(signUrl({ ...opts, path: '/movie', pathForm: true }), a.path_url);
    assert.equal(signUrl({ ...opts, path: '/movie', pathForm: true, api: '/files-api/v1' }), a.path_url.replace('/_signet/v1/', '/files-api/v1/'));
  });
  test('the root folder', () => {
    assert.equal(signLink({ ...base, path: '/', folder: true }).path, '/');
  });
  test('refused: ";", more than 200 bytes, a query, response headers', () => {
    assert.throws(() => signUrl({ ...base, path: '/a;b', folder: true }), /path: a folder must be a clean absolute path/);
    signUrl({ ...base, path: '/' + 'a'.repeat(198), folder: true });
    assert.throws(() => signUrl({ ...base, path: '/' + 'a'.repeat(199), folder: true }), RangeError);
    assert.throws(() => signUrl({ ...base, path: '/a*', folder: true }), /path: a folder/);
    assert.throws(() => signUrl({ ...base, path: '/movie', folder: true, query: 'a=1' }), /query: a folder link binds no query/);
    assert.throws(() => signUrl({ ...base, path: '/movie', folder: true, query: { a: 1 } }), /query: a folder link/);
    for (const [name, value] of [['downloadName', 'x.mp4'], ['inline', true], ['contentType', 'video/mp4']]) {
      assert.throws(() => signUrl({ ...base, path: '/movie', folder: true, [name]: value }), new RegExp(`^TypeError: ${name}: a folder link cannot set response headers`));
    }
  });
  test('max uses and a client network are allowed', () => {
    const t = decode(tokenOf(signUrl({ ...base, path: '/movie', folder: true, maxUses: 5, clientCidr: '10.0.0.0/8', inline: false, downloadName: '' })));
    assert.deepEqual(t.constraints.map((c) => c.type), [1, 4, 5]);
  });
  test('pathForm needs a folder; folder must be a boolean', () => {
    assert.throws(() => signUrl({ ...base, pathForm: true }), /pathForm: only a folder link/);
    assert.throws(() => signUrl({ ...base, folder: 'yes' }), /folder: must be a boolean/);
  });
});

describe('policies', () => {
  const constraints = (opts) => decode(tokenOf(signUrl({ ...base, ...opts }))).constraints;
  test('each is encoded in type order', () => {
    const c = constraints({ downloadName: 'Résumé "final"; v2.pdf', inline: true, contentType: 'application/pdf', maxUses: 3, clientCidr: '203.0.113.0/24' });
    assert.deepEqual(c.map((x) => x.type), [2, 3, 4, 5]);
    assert.equal(c[0].value[0], 1);
    assert.equal(c[0].value.subarray(1).toString('utf8'), 'Résumé "final"; v2.pdf');
    assert.equal(c[1].value.toString(), 'application/pdf');
    assert.equal(c[2].value.readUInt32BE(0), 3);
    assert.deepEqual([...c[3].value], [203, 0, 113, 0, 24]);
    assert.deepEqual(constraints({ inline: true }).map((x) => [x.type, [...x.value]]), [[2, [1]]]);
    assert.deepEqual(constraints({ downloadName: 'a.txt' })[0].value[0], 0);
    assert.deepEqual(constraints({ downloadName: '', contentType: '', clientCidr: '', inline: false, maxUses: null }), []);
  });
  const refused = [
    [{ downloadName: 'a/b.txt' }, /downloadName: download name contains "\/" or "\\"/],
    [{ downloadName: 'a\\b.txt' }, /downloadName: .*"\/" or "\\"/],
    [{ downloadName: '..' }, /downloadName: download name cannot be "." or ".."/],
    [{ downloadName: ' x.txt' }, /starts or ends with a space/],
    [{ downloadName: 'x.txt ' }, /starts or ends with a space/],
    [{ downloadName: 'a\u0007b' }, /control character/],
    [{ downloadName: 'a\u0085b' }, /control character/],
    [{ downloadName: 'a'.repeat(201) }, /longer than 200 bytes/],
    [{ downloadName: 'é'.repeat(101) }, /longer than 200 bytes/],
    [{ downloadName: 'a\ud800' }, /not valid UTF-8/],
    [{ downloadName: 5 }, /downloadName: must be a string/],
    [{ inline: 'yes' }, /inline: must be a boolean/],
    [{ contentType: 'text/html' }, /contentType: types a browser runs/],
    [{ contentType: 'text/html; charset=utf-8' }, /types a browser runs/],
    [{ contentType: 'image/svg+xml' }, /types a browser runs/],
    [{ contentType: 'application/javascript' }, /types a browser runs/],
    [{ contentType: 'text/xml' }, /types a browser runs/],
    [{ contentType: 'text/xsl' }, /types a browser runs/],
    [{ contentType: 'multipart/mixed' }, /types a browser runs/],
    [{ contentType: 'application/xhtml+xml' }, /types a browser runs/],
    [{ contentType: 'TEXT/HTML' }, /types a browser runs/],
    [{ contentType: 'text' }, /contentType: content type must be a type\/subtype/],
    [{ contentType: 'text/*' }, /cannot be a wildcard/],
    [{ contentType: 'tëxt/plain' }, /printable ASCII/],
    [{ contentType: 'text/plain; charset' }, /not a valid media type/],
    [{ contentType: 'text/plain; a=1; a=2' }, /not a valid media type/],
    [{ contentType: 'text/plain; a="x' }, /not a valid media type/],
    [{ contentType: 'text/plain/x' }, /not a valid media type/],
    [{ contentType: '/plain' }, /not a valid media type/],
    [{ contentType: ' text/plain' }, /starts or ends with a space/],
    [{ contentType: 'text/plain\r\n' }, /printable ASCII/],
    [{ contentType: 'a/' + 'b'.repeat(99) }, /longer than 100 bytes/],
    [{ maxUses: 0 }, /maxUses: must be a whole number from 1 to 1000000/],
    [{ maxUses: 1000001 }, /maxUses: must be a whole number from 1 to 1000000/],
    [{ maxUses: -1 }, /maxUses/],
    [{ maxUses: 1.5 }, /maxUses/],
    [{ maxUses: '3' }, /maxUses/],
    [{ clientCidr: '203.0.113.7/24' }, /clientCidr: client CIDR has host bits set: did you mean 203\.0\.113\.0\/24\?/],
    [{ clientCidr: '2001:db8::1/32' }, /did you mean 2001:db8::\/32\?/],
    [{ clientCidr: '2001:db8:0:0:1:0:0:1/127' }, /did you mean 2001:db8:0:0:1::\/127\?/],
    [{ clientCidr: '1:0:0:2:0:0:3:5/127' }, /did you mean 1::2:0:0:3:4\/127\?/],
    [{ clientCidr: '::ffff:203.0.113.7/100' }, /did you mean 192\.0\.0\.0\/4\?/],
    [{ clientCidr: 'nonsense' }, /client CIDR must be an IP address or an address\/length/],
    [{ clientCidr: '203.0.113.0/33' }, /must be an IP address/],
    [{ clientCidr: '203.0.113.0/024' }, /must be an IP address/],
    [{ clientCidr: '203.0.113.0/' }, /must be an IP address/],
    [{ clientCidr: '203.0.113.00' }, /must be an IP address/],
    [{ clientCidr: '1.2.3' }, /must be an IP address/],
    [{ clientCidr: '1:2:3:4:5:6:7:8:9' }, /must be an IP address/],
    [{ clientCidr: '1::2::3' }, /must be an IP address/],
    [{ clientCidr: 'fe80::1%eth0' }, /cannot have an IPv6 zone/],
    [{ clientCidr: '::ffff:203.0.113.0/95' }, /host bits set/],
    [{ clientCidr: 7 }, /clientCidr: must be a string/],
  ];
  for (const [opts, re] of refused) {
    test(`refused: ${JSON.stringify(opts)}`, () => {
      assert.throws(() => signUrl({ ...base, ...opts }), (e) => (e instanceof TypeError || e instanceof RangeError) && re.test(String(e)), String(re));
    });
  }
  const cidrs = [
    ['203.0.113.7', [203, 0, 113, 7, 32]],
    ['0.0.0.0/0', [0, 0, 0, 0, 0]],
    ['::ffff:203.0.113.0/120', [203, 0, 113, 0, 24]],
    ['::ffff:203.0.113.9', [203, 0, 113, 9, 32]],
    ['2001:db8::/32', [0x20, 1, 0x0d, 0xb8, ...Array(12).fill(0), 32]],
    ['2001:DB8::1', [0x20, 1, 0x0d, 0xb8, ...Array(11).fill(0), 1, 128]],
    ['::', [...Array(16).fill(0), 128]],
    ['::1.2.3.4', [...Array(12).fill(0), 1, 2, 3, 4, 128]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 128]],
  ];
  for (const [cidr, bytes] of cidrs) {
    test(`client CIDR ${cidr}`, () => {
      assert.deepEqual([...constraints({ clientCidr: cidr })[0].value], bytes);
    });
  }
  const types = ['text/plain; charset=utf-8', 'application/pdf', 'video/mp4', 'text/plain;', 'text/plain ; charset="a b"', 'application/vnd.ms-excel', 'text/plain; a=1; a=1', 'text/csv; header=present'];
  for (const ct of types) {
    test(`content type ${ct}`, () => {
      assert.equal(constraints({ contentType: ct })[0].value.toString(), ct, 'kept as given');
    });
  }
});

describe('the query', () => {
  const q = (query, extra = {}) => {
    const u = signUrl({ ...base, query, ...extra });
    return u.slice(u.indexOf('?') + 1, u.lastIndexOf('&'));
  };
  test('a string is used byte for byte', () => {
    assert.equal(q('v=2&a=1&name=x%20y'), 'v=2&a=1&name=x%20y');
    assert.equal(q('q=a+b&x=1;y=2&empty&=v'), 'q=a+b&x=1;y=2&empty&=v');
  });
  test('pairs are escaped, in the order given', () => {
    const want = 'q=a%20b%2Bc&lang=fr&%C3%A9=%C3%BC%2F%C3%9F&empty=';
    const pairs = [['q', 'a b+c'], ['lang', 'fr'], ['é', 'ü/ß'], ['empty', '']];
    assert.equal(q(pairs), want);
    assert.equal(q(new URLSearchParams(pairs)), want);
    assert.equal(q(new Map(pairs)), want);
    assert.equal(q(Object.fromEntries(pairs)), want);
    assert.equal(q({ w: 640, hq: true, x: undefined, tag: ['a', 'b'] }), 'w=640&hq=true&tag=a&tag=b');
    assert.equal(q([['tag', 'a'], ['tag', 'b']]), 'tag=a&tag=b');
  });
  test('the same parameters in any order, spelled any way, give one token', () => {
    const opts = { ...base, now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' };
    const tokens = new Set([
      [['a', '1'], ['b', 'x y']],
      [['b', 'x y'], ['a', '1']],
      'b=x%20y&a=1',
      'a=%31&b=x y',
      '&&b=x%20y&&a=1&',
    ].map((query) => tokenOf(signUrl({ ...opts, query }))));
    assert.equal(tokens.size, 1);
    assert.notEqual(tokenOf(signUrl({ ...opts, query: 'a=1&b=x+y' })), [...tokens][0], '+ is not a space');
  });
  test('an empty query is none', () => {
    assert.equal(signUrl({ ...base, query: '', now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' }), signUrl({ ...base, query: {}, now: 1767261600, urlId: 'AAECAwQFBgcICQoLDA0ODw' }));
    assert.ok(/\.pdf\?sig=/.test(signUrl({ ...base, query: [] })));
  });
  test('refused: the signature parameter, "#", a bad escape, other values', () => {
    assert.throws(() => signUrl({ ...base, query: 'a=1&sig=x' }), /must not contain the signature parameter "sig"/);
    assert.throws(() => signUrl({ ...base, query: '%73ig=x' }), /signature parameter/);
    assert.throws(() => signUrl({ ...base, query: { sig: 'x' } }), /signature parameter/);
    assert.throws(() => signUrl({ ...base, query: { s: 'x' }, param: 's' }), /signature parameter "s"/);
    assert.throws(() => signUrl({ ...base, query: 'a=1#top' }), /query: must not contain "#"/);
    assert.throws(() => signUrl({ ...base, query: 'a=%zz' }), /query: invalid percent-encoding/);
    assert.throws(() => signUrl({ ...base, query: 'a=%4' }), /query: invalid percent-encoding/);
    assert.throws(() => signUrl({ ...base, query: { a: null } }), /query: the value of "a"/);
    assert.throws(() => signUrl({ ...base, query: { a: {} } }), TypeError);
    assert.throws(() => signUrl({ ...base, query: [['a']] }), TypeError);
    assert.throws(() => signUrl({ ...base, query: 5 }), TypeError);
    assert.throws(() => signUrl({ ...base, query: 'x='.padEnd(7103, 'a') }), RangeError);
    signUrl({ ...base, query: 'x='.padEnd(7102, 'a') });
  });
  test('canonicalQuery: the table of docs/signed-urls.md', () => {
    for (const [raw, want] of [
      ['b=2&a=1', 'a=1&b=2'],
      ['a=%31&b', 'a=1&b='],
      ['z=%7e%41&y=A+B;C&x=%2b', 'x=%2B&y=A+B;C&z=~A'],
      ['é=ü ', '%C3%A9=%C3%BC%20'],
      ['a=2&a=10&a=1', 'a=1&a=10&a=2'],
      ['q=a+b&q=a%20b&x=1;y=2&empty&=v&%7Euser=~me&b=%2b', '=v&b=%2B&empty=&q=a%20b&q=a+b&x=1;y%3D2&~user=~me'],
      ['a=b=c', 'a=b%3Dc'],
      ['a&a%00&a-&ab', 'a=&a%00=&a-=&ab='],
    ]) {
      assert.equal(canonicalQuery(raw), want, raw);
    }
    assert.equal(canonicalQuery('a=1&sig=x&%73ig=y&b=2', 'sig'), 'a=1&b=2');
    assert.throws(() => canonicalQuery('a=%g0'), TypeError);
  });
});

describe('the signature parameter', () => {
  test('a custom name', () => {
    assert.match(signUrl({ ...base, param: 's' }), /\.pdf\?s=[A-Za-z0-9_-]+$/);
    assert.match(signUrl({ ...base, param: 'X-Sig.1~' }), /\?X-Sig\.1~=/);
  });
  for (const p of ['', 'a b', 's=', 'a'.repeat(65), 5, 'sïg']) {
    test(`refused: ${JSON.stringify(p)}`, () => {
      assert.throws(() => signUrl({ ...base, param: p }), /param: /);
    });
  }
  test('api must be a clean prefix', () => {
    for (const api of ['/', 'x', '/a/../b', '/api/', 5]) {
      assert.throws(() => signUrl({ ...base, folder: true, api }), /api: /);
    }
  });
  test('options must be an object', () => {
    assert.throws(() => signUrl(), TypeError);
    assert.throws(() => new Signer(key).signUrl(null), TypeError);
  });
});

describe('signToken (explicit secret and claims)', () => {
  const secret = { id: '2026-01', key: Buffer.alloc(32, 1) };
  const claims = { expiresAt: 1767265200, issuedAt: 1767261600, id: 'AAECAwQFBgcICQoLDA0ODw' };
  const target = { host: 'files.example.com', path: '/a/b.pdf' };
  test('checks like the Go signer', () => {
    signToken(secret, claims, target);
    const cases = [
      [[{ ...secret, id: '' }, claims, target], /secret\.id/],
      [[{ ...secret, id: 'a'.repeat(33) }, claims, target], /secret\.id/],
      [[{ ...secret, id: 'a b' }, claims, target], /secret\.id/],
      [[{ ...secret, key: Buffer.alloc(31) }, claims, target], /shorter than 32 bytes/],
      [[{ ...secret, key: 'x'.repeat(32) }, claims, target], /Uint8Array/],
      [[secret, { ...claims, issuedAt: claims.expiresAt }, target], /issuedAt < expiresAt/],
      [[secret, { ...claims, issuedAt: 0 }, target], /issuedAt < expiresAt/],
      [[secret, { ...claims, keyId: 'a b' }, target], /key id/],
      [[secret, { ...claims, keyId: 'k'.repeat(65) }, target], /key id/],
      [[secret, { ...claims, prefix: '/x/' }, target], /the prefix does not cover the path/],
      [[secret, { ...claims, prefix: '/a/../' }, target], /prefix is not a clean absolute path/],
      [[secret, { ...claims, prefix: '/a/' }, { ...target, rawQuery: 'x=1' }], /a folder token binds no query/],
      [[secret, claims, { ...target, method: 'POST' }], /GET or HEAD/],
      [[secret, claims, { ...target, host: '' }], /host missing/],
      [[secret, claims, { ...target, host: ':443' }], /host missing/],
      [[secret, claims, { ...target, path: '/a/../b' }], /ambiguous path/],
      [[secret, claims, { ...target, rawPath: '/a%2Fb.pdf' }], /ambiguous path/],
      [[secret, claims, { ...target, rawQuery: 'a=%' }], /invalid percent-encoding/],
      [[secret, { ...claims, id: 'short' }, target], /claims\.id/],
      [[secret, { ...claims, policy: { maxUses: 2 ** 32 } }, target], /maxUses/],
      [[secret, { ...claims, policy: { clientCidr: '10.0.0.1/8' } }, target], /host bits/],
    ];
    for (const [args, re] of cases) assert.throws(() => signToken(...args), re, String(re));
  });
  test('the format allows what Signet refuses to sign', () => {
    // Response headers on a prefix token, 2^32-1 uses, a key id of any printable ASCII.
    signToken(secret, { ...claims, prefix: '/a/', keyId: 'key:ops/7', policy: { downloadName: 'x', contentType: 'text/html', maxUses: 2 ** 32 - 1 } }, target);
  });
  test('HEAD and GET sign alike', () => {
    assert.equal(signToken(secret, claims, target), signToken(secret, claims, { ...target, method: 'HEAD' }));
  });
});

test('no link id starts with a dash (one random id in 64 would; they are drawn again)', () => {
  const signer = new Signer(key);
  for (let i = 0; i < 3000; i++) {
    const link = signer.signLink({ ...base, key: undefined });
    assert.notEqual(link.id[0], '-', link.id);
  }
});
