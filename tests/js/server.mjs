// Starts `flops serve` on a free loopback port for a test and stops it afterwards.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(here, '../..');
export const flopsBin = process.env.FLOPS_BIN || path.join(sourceDir, 'build/flops');
export const shippedModel = process.env.FLOPS_TEST_MODEL || path.join(sourceDir, 'models/flops-a.gguf');

// Exit code 77: ctest counts the test as skipped (SKIP_RETURN_CODE).
export function skipUnless(cond, why) {
  if (!cond) {
    console.log(`SKIP: ${why}`);
    process.exit(77);
  }
}

export function checkPrerequisites() {
  skipUnless(existsSync(path.join(here, 'node_modules/openai')), 'tests/js/node_modules missing: run scripts/setup.sh (npm ci in tests/js)');
  skipUnless(existsSync(flopsBin), `no flops binary at ${flopsBin}`);
  skipUnless(existsSync(shippedModel), `no model at ${shippedModel}`);
}

export async function startServer(extra = [], { model = shippedModel, env = {} } = {}) {
  const args = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '-t', '1', ...extra];
  const proc = spawn(flopsBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s: ${stderr}`)), 30000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${stderr}`)); });
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url, proc, exited,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
