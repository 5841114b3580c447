// Server benchmark: flops serve and llama.cpp's llama-server, side by side in one run, on the same
// GGUF file and the same requests. 1 and 8 concurrent streaming clients (-np 8 both), each
// sending streamed /v1/completions of a fixed length (ignore_eos); total decode tokens/s and
// p50/p99 time to first token; then the same with one of the two cores held by `yes > /dev/null`.
//
//   node bench/bench_server.mjs [--size S|M | --model FILE.gguf] [--tokens 64] [--requests 3] [--rounds 3] [--threads 2] [--only flops|llama] [--quiet-only]
// Defaults: the random-weight Q4_0 llama of --size written by build/bench/bench_server_model: S
// (24M, the default; its weights fit in L3) or M (134M; a one-sequence step reads the weights
// from memory, as with any real model).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const FLOPS = arg('flops', path.join(root, 'build/flops'));
const LLAMA = arg('llama', path.resolve(root, '../shared/reference/llama.cpp/bin/llama-server'));
const TOKENS = Number(arg('tokens', 64));
const REQUESTS = Number(arg('requests', 3));
const ROUNDS = Number(arg('rounds', 3));
const THREADS = arg('threads', '2');
const SIZE = arg('size', 'S');
// --only flops|llama and --quiet-only: a shorter run while working on one server (the table then
// has only the rows measured).
const ONLY = arg('only', '');
const QUIET_ONLY = process.argv.includes('--quiet-only');
let MODEL = arg('model', '');
if (!MODEL) {
  if (SIZE !== 'S' && SIZE !== 'M') { console.error(`--size must be S or M, got ${SIZE}`); process.exit(2); }
  MODEL = path.join(os.tmpdir(), `flops_bench_server_${SIZE === 'S' ? '24m' : '134m'}_q4_0.gguf`);
  if (!existsSync(MODEL)) execFileSync(path.join(root, 'build/bench/bench_server_model'), [MODEL, SIZE], { stdio: 'inherit' });
}
const MODEL_NAME = path.basename(MODEL, '.gguf');
const PROMPT = 'The history of the town begins with a river, a mill and a road that ran north to the sea; by the time';

function freePort() {
  return new Promise((res) => { const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
}

async function waitHealthy(url, proc, name) {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`);
    try { const r = await fetch(`${url}/health`); if (r.ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become healthy`);
}

async function startFlops() {
  const port = await freePort();
  const proc = spawn(FLOPS, ['serve', '-m', MODEL, '--port', String(port), '-np', '8', '-c', '512', '-t', THREADS, '--quiet'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, 'flops serve');
  return { name: 'flops serve', url, proc, model: MODEL_NAME };
}

async function startLlama() {
  const port = await freePort();
  // -c is the total context of llama-server, shared by its slots: 8 x 512 as flops's -c 512 per slot.
  const proc = spawn(LLAMA, ['-m', MODEL, '--host', '127.0.0.1', '--port', String(port), '-np', '8', '-c', '4096', '-t', THREADS,
    '--no-webui', '-lv', '0'], { stdio: ['ignore', 'ignore', 'ignore'], cwd: path.dirname(LLAMA) });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, 'llama-server');
  return { name: 'llama-server', url, proc, model: 'default' };
}

// One streamed completion: time to first token and tokens received.
function streamOnce(srv) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: srv.model, prompt: PROMPT, max_tokens: TOKENS, temperature: 0.8, top_k: 40, top_p: 0.95, min_p: 0.05, seed: 1,
      stream: true, ignore_eos: true });
    const u = new URL(`${srv.url}/v1/completions`);
    const t0 = performance.now();
    let first = 0, chunks = 0, buf = '';
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
          const j = JSON.parse(ev.slice(6));
          if (j.choices && j.choices.length && j.choices[0].finish_reason == null && (j.choices[0].text || '') !== '') {
            if (!first) first = performance.now();
            chunks++;
          }
        }
      });
      res.on('end', () => resolve({ ttft: (first || performance.now()) - t0, chunks }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

// One round of `clients` concurrent clients, REQUESTS streamed completions each: tokens/s over
// the round's wall time, and each request's time to first token.
async function run(srv, clients) {
  const ttfts = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let r = 0; r < REQUESTS; r++) ttfts.push((await streamOnce(srv)).ttft);
  }));
  const secs = (performance.now() - t0) / 1000;
  return { tps: clients * REQUESTS * TOKENS / secs, ttfts };
}

const median = (xs) => pct(xs, 0.5);
const results = [];
// ROUNDS rounds of 1 then 8 clients, alternately, so that the machine's drift (this VM's speed
// moves 10-40% over minutes) falls on both; each reports the median round's tokens/s and the
// percentiles of every request's TTFT.
async function measure(load) {
  const starts = ONLY === 'flops' ? [startFlops] : ONLY === 'llama' ? [startLlama] : [startFlops, startLlama];
  for (const start of starts) {
    const srv = await start();
    try {
      await streamOnce(srv);  // warm-up
      const rounds = { 1: [], 8: [] }, ttfts = { 1: [], 8: [] };
      for (let k = 0; k < ROUNDS; k++)
        for (const clients of [1, 8]) {
          const r = await run(srv, clients);
          rounds[clients].push(r.tps);
          ttfts[clients].push(...r.ttfts);
        }
      for (const clients of [1, 8]) {
        const r = { tps: median(rounds[clients]), p50: pct(ttfts[clients], 0.5), p99: pct(ttfts[clients], 0.99) };
        results.push({ load, server: srv.name, clients, ...r });
        console.error(`${load} ${srv.name} ${clients} client(s): ${r.tps.toFixed(0)} tok/s (rounds ${rounds[clients].map((x) => x.toFixed(0)).join(', ')}), ` +
          `TTFT p50 ${r.p50.toFixed(0)} ms p99 ${r.p99.toFixed(0)} ms`);
      }
    } finally {
      srv.proc.kill('SIGTERM');
      await new Promise((r) => srv.proc.on('exit', r));
    }
  }
}

console.error(`model ${MODEL}, ${TOKENS} tokens per request, ${REQUESTS} requests per client, ${ROUNDS} rounds, ${THREADS} threads, ${os.loadavg()[0].toFixed(1)} load`);
try {
  await measure('quiet');
} catch (e) { console.error(e); process.exit(1); }
if (!QUIET_ONLY) {
  const yes = spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    await measure('yes on one core');
  } catch (e) {
    console.error(e);
    process.exit(1);
  } finally {
    yes.kill('SIGKILL');
  }
}

const get = (load, server, clients) => results.find((r) => r.load === load && r.server === server && r.clients === clients);
console.log('| machine | server | 1 client tok/s | 8 clients tok/s | 8 / 1 | TTFT p50 / p99 (1 client) | TTFT p50 / p99 (8 clients) |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const load of ['quiet', 'yes on one core'])
  for (const server of ['flops serve', 'llama-server']) {
    const a = get(load, server, 1), b = get(load, server, 8);
    if (!a || !b) continue;
    console.log(`| ${load} | ${server} | ${a.tps.toFixed(0)} | ${b.tps.toFixed(0)} | ${(b.tps / a.tps).toFixed(2)}x | ` +
      `${a.p50.toFixed(0)} / ${a.p99.toFixed(0)} ms | ${b.p50.toFixed(0)} / ${b.p99.toFixed(0)} ms |`);
  }
for (const server of ['flops serve', 'llama-server']) {
  const q = get('quiet', server, 8), y = get('yes on one core', server, 8);
  if (!q || !y) continue;
  console.log(`\n${server}: 8 clients keep ${((y.tps / q.tps) * 100).toFixed(0)}% of their quiet throughput with one core busy`);
}
