// GET /download/:id redirects to a 5-minute link for the file with that
// id, signed offline with an API key: no call to Signet per download.
import express from 'express';
import { Signer } from 'signet-client';

// The key (created with offline signing) and the site Signet guards.
const signer = new Signer(process.env.SIGNET_KEY);
const baseUrl = process.env.SIGNET_BASE_URL ?? 'http://localhost:8080';

// The application's files; in real life, a database lookup.
const files = new Map([
  ['q1-2026', { path: '/downloads/report.pdf', name: 'Q1 2026 report.pdf' }],
  ['installer', { path: '/downloads/setup.bin', name: 'setup.bin' }],
]);

const app = express();

app.get('/download/:id', (req, res) => {
  const file = files.get(req.params.id);
  if (!file) {
    res.status(404).type('text').send('no such file\n');
    return;
  }
  // Check here that this user may have the file, then hand out a link.
  const url = signer.signUrl({ baseUrl, path: file.path, expiresIn: 300, downloadName: file.name });
  res.set('Cache-Control', 'no-store').redirect(302, url);
});

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
app.listen(port, host, (err) => {
  if (err) throw err;
  console.log(`listening on http://${host}:${port}`);
});
