// Fault and load: 2,000 requests from 32 concurrent connections mixing good requests (checked
// against reference answers), malformed JSON, oversized bodies, unknown fields, wrong types,
// clients that disconnect mid-stream and cancelled requests. Every good answer must be right,
// every bad one the right 4xx, the server must not crash, and its resident memory afterwards
// must be within 10% of before. Then: a full queue answers 503 with Retry-After, and SIGTERM
// drains a stream in flight and exits 0. Loopback only, bounded in count and time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { checkPrerequisites, startServer } from './server.mjs';

checkPrerequisites();

const TOTAL = Number(process.env.FLOPS_FAULT_REQUESTS || 2000);
const CONCURRENCY = 32;
const MAX_BODY = 65536;

function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(m[1]);
}

// One HTTP request on its own connection; `onData` may destroy it to disconnect.
function request(url, path, body, { onData, signal, raw = false } = {}) {
  return new Promise((resolve) => {
    const u = new URL(url + path);
    const data = raw ? body : JSON.stringify(body);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, signal,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; if (onData) onData(req, text); });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on('error', () => resolve({ status: res.statusCode, text, aborted: true }));
      res.on('aborted', () => resolve({ status: res.statusCode, text, aborted: true }));
    });
    req.on('error', (e) => resolve({ error: e.code || e.name }));
    req.end(data);
  });
}

function sseText(body) {
  let text = '', done = false;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const p = line.slice(6);
    if (p === '[DONE]') { done = true; continue; }
    const j = JSON.parse(p);
    for (const c of j.choices || []) text += c.text || '';
  }
  return { text, done };
}

const prompts = ['The sea was', 'In the morning she', 'My lord, I', 'It was a dark'];

test('2,000 mixed requests from 32 connections', { timeout: 240000 }, async () => {
  const srv = await startServer(['-np', '4', '--max-body', String(MAX_BODY), '--max-queue', '64']);
  try {
    // Reference answers: greedy non-streamed and seeded streamed ones.
    const ref = {}, refStream = {};
    for (const p of prompts) {
      const r = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 4, temperature: 0 });
      ref[p] = JSON.parse(r.text).choices[0].text;
      const s = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 6, seed: 9, temperature: 1 });
      refStream[p] = JSON.parse(s.text).choices[0].text;
    }
    // Warm up, so that memory grown once (buffers, caches, thread stacks) is in the baseline.
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
      request(srv.url, '/v1/completions', { model: 'flops-a', prompt: prompts[i % 4], max_tokens: 4, stream: i % 2 === 0 })));
    const rssBefore = rssKb(srv.proc.pid);

    const kinds = ['good', 'good', 'good', 'stream', 'stream', 'malformed', 'oversized', 'unknown', 'wrongtype', 'disconnect', 'cancel'];
    const counts = {}, failures = [];
    let next = 0, rng = 12345;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648);
    async function one(i) {
      const kind = kinds[Math.floor(rand() * kinds.length)];
      const p = prompts[i % prompts.length];
      counts[kind] = (counts[kind] || 0) + 1;
      const fail = (why) => failures.push(`#${i} ${kind}: ${why}`);
      if (kind === 'good') {
        const r = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 4, temperature: 0 });
        if (r.status !== 200) return fail(`status ${r.status} ${r.text}`);
        const j = JSON.parse(r.text);
        if (j.choices[0].text !== ref[p]) fail(`text ${JSON.stringify(j.choices[0].text)} != ${JSON.stringify(ref[p])}`);
        if (!(j.usage.flops > 0)) fail('no flops in usage');
      } else if (kind === 'stream') {
        const r = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 6, seed: 9, temperature: 1, stream: true });
        if (r.status !== 200) return fail(`status ${r.status}`);
        const { text, done } = sseText(r.text);
        if (!done) fail('no [DONE]');
        if (text !== refStream[p]) fail(`stream ${JSON.stringify(text)} != ${JSON.stringify(refStream[p])}`);
      } else if (kind === 'malformed') {
        const r = await request(srv.url, '/v1/completions', '{"model": "flops-a", "prompt": "x", max_tokens', { raw: true });
        if (r.status !== 400 || JSON.parse(r.text).error.code !== 'invalid_json') fail(`status ${r.status} ${r.text}`);
      } else if (kind === 'oversized') {
        const r = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: 'x'.repeat(MAX_BODY + 1000) });
        // The server may answer 413 before reading the body and close; both are the right refusal.
        if (r.error === 'EPIPE' || r.error === 'ECONNRESET') return;
        if (r.status !== 413 || !JSON.parse(r.text).error) fail(`status ${r.status} ${r.error || ''}`);
      } else if (kind === 'unknown') {
        const r = await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 2, temprature: 0.5 });
        if (r.status !== 400 || JSON.parse(r.text).error.param !== 'temprature') fail(`status ${r.status} ${r.text}`);
      } else if (kind === 'wrongtype') {
        const r = await request(srv.url, '/v1/chat/completions', { model: 'flops-a', messages: 'hello', max_tokens: 2 });
        if (r.status !== 400 || JSON.parse(r.text).error.param !== 'messages') fail(`status ${r.status} ${r.text}`);
      } else if (kind === 'disconnect') {
        await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 200, stream: true },
          { onData: (req, text) => { if (text.includes('"text":" ') || text.length > 400) req.destroy(); } });
      } else if (kind === 'cancel') {
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 2 + Math.floor(rand() * 10));
        await request(srv.url, '/v1/completions', { model: 'flops-a', prompt: p, max_tokens: 40 }, { signal: ac.signal });
      }
    }
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) await one(next++);
    }));
    const secs = (Date.now() - t0) / 1000;
    assert.equal(srv.proc.exitCode, null, 'the server is still running');
    // Disconnected and cancelled requests leave their slots: all idle shortly.
    let health;
    for (let k = 0; k < 100; k++) {
      health = await fetch(`${srv.url}/health`).then((r) => r.json());
      if (health.slots_processing === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health.slots_processing, 0, 'every slot is free again');
    const rssAfter = rssKb(srv.proc.pid);
    console.log(`# ${TOTAL} requests in ${secs.toFixed(1)} s (${(TOTAL / secs).toFixed(0)}/s), kinds ${JSON.stringify(counts)}, ` +
                `RSS ${rssBefore} kB -> ${rssAfter} kB (${((rssAfter / rssBefore - 1) * 100).toFixed(1)}%)`);
    assert.deepEqual(failures.slice(0, 10), []);
    assert.ok(rssAfter <= rssBefore * 1.10, `RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
    const metrics = await fetch(`${srv.url}/metrics`).then((r) => r.text());
    assert.match(metrics, /flops_requests_total\{route="\/v1\/completions",status="400"\} \d+/);
  } finally {
    const { code } = await srv.stop();
    assert.equal(code, 0, `exit code (stderr: ${srv.stderr().slice(-2000)})`);
  }
});

test('a full queue answers 503 with Retry-After', { timeout: 60000 }, async () => {
  const srv = await startServer(['-np', '1', '--max-queue', '1']);
  try {
    const rs = await Promise.all(Array.from({ length: 6 }, () =>
      request(srv.url, '/v1/completions', { model: 'flops-a', prompt: 'The sea', max_tokens: 120, temperature: 0 })));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, `statuses ${rs.map((r) => r.status)}`);
    assert.equal(busy[0].headers['retry-after'], '1');
    assert.equal(JSON.parse(busy[0].text).error.code, 'server_busy');
    // The one that got the slot (and perhaps the one queued behind it) is answered.
    assert.ok(rs.filter((r) => r.status === 200).length >= 1);
    assert.equal(rs.filter((r) => r.status !== 200 && r.status !== 503).length, 0);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM drains the stream in flight, refuses new work, exits 0', { timeout: 60000 }, async () => {
  const srv = await startServer(['-np', '2']);
  let signalled = false, late = null;
  const inflight = request(srv.url, '/v1/completions', { model: 'flops-a', prompt: 'Once', max_tokens: 150, stream: true },
    { onData: () => {
      if (signalled) return;
      signalled = true;
      srv.proc.kill('SIGTERM');
      // Work arriving while the server drains is refused.
      late = new Promise((res) => setTimeout(res, 50)).then(() =>
        request(srv.url, '/v1/completions', { model: 'flops-a', prompt: 'Late', max_tokens: 2 }));
    } });
  const r = await inflight;
  const lr = await late;
  assert.ok(lr.status === 503 || lr.error === 'ECONNREFUSED', `late request: ${lr.status || lr.error}`);
  assert.equal(r.status, 200);
  const { done } = sseText(r.text);
  assert.ok(done, 'the stream ran to [DONE]');
  const { code } = await srv.exited;
  assert.equal(code, 0);
  assert.match(srv.stderr(), /SIGTERM received, draining/);
});
