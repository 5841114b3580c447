// Many adapters from one base (issue 17): one `flops serve --lora-dir` process, 8 concurrent
// clients all on the base, then 8 concurrent clients each on a different adapter, side by side
// in one run on the same server; total decode tokens/s, the overhead of the adapters, the FLOPs
// per token the server counted, and whether every concurrent response equals the same request
// (same seed) sent alone. A run is 8 clients x REQUESTS completions of TOKENS tokens (ignore_eos).
//
//   node bench/bench_lora_serve.mjs [--model models/flops-a.gguf] [--adapters DIR] [--tokens 64]
//                                   [--requests 2] [--threads 1] [--rank 8] [--reps 3]
// Without --adapters, 8 random rank-8 adapters of the model are written by
// build/bench/bench_lora_adapters (serving cost depends on rank and matrices, not on values).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const FLOPS = arg('flops', path.join(root, 'build/flops'));
const MODEL = arg('model', path.join(root, 'models/flops-a.gguf'));
const TOKENS = Number(arg('tokens', 64));
const REQUESTS = Number(arg('requests', 2));
const THREADS = arg('threads', '1');
const RANK = arg('rank', '8');
const REPS = Number(arg('reps', 3));
let DIR = arg('adapters', '');
if (!DIR) {
  DIR = path.join(os.tmpdir(), `flops_bench_lora_r${RANK}`);
  execFileSync(path.join(root, 'build/bench/bench_lora_adapters'), [MODEL, DIR, '8', RANK], { stdio: ['ignore', 'ignore', 'inherit'] });
}
const ADAPTERS = readdirSync(DIR).filter((f) => f.endsWith('.gguf')).map((f) => f.slice(0, -5)).sort().slice(0, 8);
if (ADAPTERS.length < 8) { console.error(`error: ${DIR} holds ${ADAPTERS.length} adapters, 8 needed`); process.exit(1); }
const BASE_ID = path.basename(MODEL, '.gguf');
const PROMPT = 'It was the best of times, and the house at the end of the lane had never';

function freePort() {
  return new Promise((res) => { const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { buf += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(buf)) : reject(new Error(`${res.statusCode}: ${buf}`))));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const proc = spawn(FLOPS, ['serve', '-m', MODEL, '--port', String(port), '-np', '8', '-c', '256', '-t', THREADS, '--quiet',
  '--lora-dir', DIR], { stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; ; i++) {
  if (proc.exitCode !== null || i > 600) { console.error('error: flops serve did not start'); process.exit(1); }
  try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* not up yet */ }
  await new Promise((r) => setTimeout(r, 100));
}

const request = (model, seed) => ({ model, prompt: PROMPT, max_tokens: TOKENS, temperature: 0.8, top_k: 40, seed, ignore_eos: true });
const complete = (model, seed) => post(`${url}/v1/completions`, request(model, seed));

// 8 clients at once, client i on models[i], REQUESTS requests each (seeds 1..REQUESTS).
async function concurrent(models) {
  const out = models.map(() => []);
  let flops = 0, tokens = 0;
  const t0 = performance.now();
  await Promise.all(models.map(async (m, i) => {
    for (let r = 0; r < REQUESTS; r++) {
      const j = await complete(m, r + 1);
      out[i].push(j.choices[0].text);
      flops += j.usage.flops;
      tokens += j.usage.completion_tokens;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { out, tps: tokens / secs, secs, flopsPerToken: flops / tokens };
}

let status = 0;
try {
  const baseModels = Array(8).fill(BASE_ID);
  const loraModels = ADAPTERS.map((a) => `${BASE_ID}:${a}`);
  // Warm-up (loads every adapter once, so loading is not timed).
  for (const m of [BASE_ID, ...loraModels]) await post(`${url}/v1/completions`, { ...request(m, 99), max_tokens: 2 });
  // Alternate the two kinds of load so that a change in the machine's load hits both; the median
  // of REPS runs of each is reported, with every run shown (the machine may be shared).
  const runs = { base: [], lora: [] };
  for (let rep = 0; rep < REPS; rep++) {
    runs.base.push(await concurrent(baseModels));
    runs.lora.push(await concurrent(loraModels));
  }
  // The same requests one at a time.
  let same = 0, total = 0;
  for (let i = 0; i < 8; i++)
    for (let r = 0; r < REQUESTS; r++) {
      const alone = (await complete(loraModels[i], r + 1)).choices[0].text;
      for (const run of runs.lora) { total++; if (run.out[i][r] === alone) same++; }
    }
  const baseAlone = (await complete(BASE_ID, 1)).choices[0].text;
  let baseSame = 0;
  for (const run of runs.base) for (let i = 0; i < 8; i++) baseSame += run.out[i][0] === baseAlone ? 1 : 0;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const perStep = Number((metrics.match(/\nflops_lora_adapters_per_step_max (\d+)/) || [])[1]);
  const tps = (rs) => { const v = rs.map((r) => r.tps).sort((x, y) => x - y); return v[Math.floor(v.length / 2)]; };
  const all = (rs) => rs.map((r) => r.tps.toFixed(0)).join(', ');
  const fpt = (rs) => rs[0].flopsPerToken;
  const b = tps(runs.base), l = tps(runs.lora);
  console.log(`model ${MODEL}, ${ADAPTERS.length} adapters (${DIR}), ${TOKENS} tokens x ${REQUESTS} requests per client, ` +
    `-np 8, ${THREADS} thread(s), load ${os.loadavg()[0].toFixed(1)}`);
  console.log(`| 8 concurrent clients | total tokens/s (median of ${REPS} runs) | the runs | FLOPs per generated token (counted) |`);
  console.log('|---|---:|---:|---:|');
  console.log(`| all on the base | ${b.toFixed(0)} | ${all(runs.base)} | ${fpt(runs.base).toExponential(3)} |`);
  console.log(`| each on a different adapter | ${l.toFixed(0)} | ${all(runs.lora)} | ${fpt(runs.lora).toExponential(3)} |`);
  console.log(`\nadapter overhead: ${((b / l - 1) * 100).toFixed(1)}% time per token, ` +
    `${((fpt(runs.lora) / fpt(runs.base) - 1) * 100).toFixed(1)}% FLOPs per token; ` +
    `most adapters in one batched step: ${perStep}`);
  console.log(`responses equal to the same request sent alone: adapters ${same}/${total}, base ${baseSame}/${runs.base.length * 8}`);
  if (same !== total || baseSame !== runs.base.length * 8) status = 1;
} catch (e) {
  console.error(e);
  status = 1;
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
}
process.exit(status);
