// The web page in a real browser: Debian's chromium driven by playwright-core opens the page that
// `flops serve` carries, sends a chat message and sees the answer stream in, runs a detection and
// sees coloured sentences, computes a GPT-3 estimate, and saves screenshots for the README.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkPrerequisites, skipUnless, startServer, sourceDir } from './server.mjs';

checkPrerequisites();
const CHROMIUM = process.env.FLOPS_CHROMIUM || '/usr/bin/chromium';
skipUnless(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: run scripts/setup.sh (apt package chromium)`);
const { chromium } = await import('playwright-core');

const shots = process.env.FLOPS_SCREENSHOT_DIR || path.join(sourceDir, 'build/screenshots');
mkdirSync(shots, { recursive: true });

const PROSE = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ' +
  'However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed ' +
  'in the minds of the surrounding families, that he is considered the rightful property of some one or other of their daughters. ' +
  'My dear Mr. Bennet, said his lady to him one day, have you heard that Netherfield Park is let at last? Mr. Bennet replied that he had not.';

let srv, context, page, profile;
before(async () => {
  srv = await startServer(['-np', '2', '--api-key', 'page-key']);
  profile = mkdtempSync(path.join(os.tmpdir(), 'flops-chromium-'));
  // A fresh profile directory (Playwright passes it as --user-data-dir).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  // The key is kept in localStorage; the page itself loads without it.
  await page.goto(srv.url + '/');
  await page.fill('#apikey', 'page-key');
  await page.dispatchEvent('#apikey', 'change');
  await page.reload();
});
after(async () => {
  if (context) await context.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (srv) await srv.stop();
});

test('chat: the answer streams in, with its receipt', async () => {
  await page.waitForFunction(() => document.getElementById('model').textContent.includes('flops-a'));
  await page.fill('#max_tokens', '48');
  await page.fill('#seed', '4');
  await page.fill('#chat-input', 'Tell me about the weather at sea.');
  // Count the updates of the answer as they arrive: more than one means it streamed. Mutation
  // records, not observer callbacks: a fast server's events can reach the page in one network
  // read, whose updates the browser then reports in one callback.
  await page.evaluate(() => {
    window.__updates = 0;
    new MutationObserver((records) => { window.__updates += records.length; }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
  await page.click('#send');
  await page.waitForSelector('.msg.assistant[data-done="1"]', { timeout: 30000 });
  const answer = await page.textContent('.msg.assistant .content');
  assert.ok(answer.length > 10, `answer: ${answer}`);
  const updates = await page.evaluate(() => window.__updates);
  assert.ok(updates > 5, `${updates} updates`);
  const r = await page.textContent('.msg.assistant .receipt');
  assert.match(r, /FLOP/);
  assert.match(r, /CO2e/);
  await page.screenshot({ path: path.join(shots, 'chat.png') });
});

test('Is this AI?: a verdict and sentences coloured by lean', async () => {
  await page.click('nav button[data-tab="detect"]');
  await page.fill('#detect-input', PROSE);
  await page.click('#detect-run');
  await page.waitForSelector('#detect-result .sentences .sentence', { timeout: 30000 });
  const verdict = await page.textContent('#detect-result .verdict');
  assert.ok(['likely AI', 'likely human', 'mixed', 'no verdict'].includes(verdict), verdict);
  const leans = await page.$$eval('#detect-result .sentence', (xs) => xs.map((x) => x.className));
  assert.ok(leans.length >= 4, `${leans.length} sentences`);
  for (const c of leans) assert.match(c, /lean-(ai|human|neutral)/);
  // Coloured: the background is not the page's.
  const bg = await page.$eval('#detect-result .sentence', (x) => getComputedStyle(x).backgroundColor);
  assert.notEqual(bg, 'rgba(0, 0, 0, 0)');
  assert.match(await page.textContent('#detect-result .receipt'), /FLOP/);
  await page.screenshot({ path: path.join(shots, 'detect.png') });
});

test('cost calculator: the GPT-3 preset', async () => {
  await page.click('nav button[data-tab="cost"]');
  await page.waitForFunction(() => document.querySelectorAll('#preset option').length > 1);
  await page.selectOption('#preset', 'gpt3');
  await page.click('#estimate-run');
  await page.waitForSelector('#cost-result table td');
  const text = await page.textContent('#cost-result');
  assert.match(text, /FLOP/);
  await page.screenshot({ path: path.join(shots, 'cost.png'), fullPage: false });
});
