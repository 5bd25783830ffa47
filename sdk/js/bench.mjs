// Offline signing throughput: links signed per second by one Signer.
// Run on one core: taskset -c 0 node sdk/js/bench.mjs
import { randomBytes } from 'node:crypto';
import { Signer, signUrl } from './src/index.js';

// A well-formed secret key value (sk_, 32 random bytes and their CRC-32).
function newKey() {
  const raw = Buffer.alloc(36);
  randomBytes(32).copy(raw);
  let c = 0xffffffff;
  for (const b of Buffer.concat([Buffer.from('sk_'), raw.subarray(0, 32)])) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  raw.writeUInt32BE((c ^ 0xffffffff) >>> 0, 32);
  return 'sk_' + raw.toString('base64url');
}

const key = newKey();
const signer = new Signer(key);
const cases = {
  'file link': { baseUrl: 'https://files.example.com', path: '/reports/2026/q1.pdf', expiresIn: 300 },
  'file link, query and download name': {
    baseUrl: 'https://files.example.com', path: '/photos/2026/café menu.jpg', expiresIn: 300,
    query: { w: 640, fmt: 'webp' }, downloadName: 'Menu.jpg',
  },
  'folder link': { baseUrl: 'https://files.example.com', path: '/movie/', folder: true, expiresIn: 7200 },
};

function run(name, fn, opts) {
  let sink = 0;
  for (let i = 0; i < 20000; i++) sink += fn(opts).length; // warm up
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const n = 100000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn(opts).length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rounds.push(n / s);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} ${Math.round(rounds[2]).toLocaleString('en-US').padStart(9)} links/s (median of 5 × 100,000; ${(1e6 / rounds[2]).toFixed(2)} µs each)`);
  return sink;
}

console.log(`node ${process.version}, ${process.arch}`);
for (const [name, opts] of Object.entries(cases)) run('Signer.signUrl: ' + name, (o) => signer.signUrl(o), opts);
run('signUrl (same key each call): file link', (o) => signUrl(o), { ...cases['file link'], key });
