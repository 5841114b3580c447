// flops's page: a chat playground (streamed over server-sent events), "Is this AI?" and a cost
// calculator. Plain JavaScript, no dependencies, same origin as the API.
'use strict';

const $ = (id) => document.getElementById(id);
const keyInput = $('apikey');
keyInput.value = localStorage.getItem('flops-api-key') || '';
keyInput.addEventListener('change', () => localStorage.setItem('flops-api-key', keyInput.value));

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (keyInput.value) h.Authorization = `Bearer ${keyInput.value}`;
  return h;
}

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: headers(), body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((j.error && j.error.message) || `HTTP ${r.status}`);
  return j;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Numbers as people read them: 1.23 GFLOP, 45 mJ, 3.1 µg.
function si(x, unit) {
  if (!isFinite(x)) return '–';
  if (x === 0) return `0 ${unit}`;
  const prefixes = [['P', 1e15], ['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3], ['', 1], ['m', 1e-3], ['µ', 1e-6], ['n', 1e-9]];
  for (const [p, f] of prefixes) if (Math.abs(x) >= f) return `${(x / f).toPrecision(3)} ${p}${unit}`;
  return `${x.toExponential(2)} ${unit}`;
}

function receipt(u) {
  const parts = [];
  if (u.prompt_tokens !== undefined) parts.push(`${u.prompt_tokens} prompt + ${u.completion_tokens ?? 0} generated tokens`);
  parts.push(`${si(u.flops, 'FLOP')}`, `${(u.seconds * 1000).toFixed(0)} ms`, `${si(u.joules, 'J')} (${u.energy_source})`, `${si(u.co2e_g, 'g')} CO2e`);
  const r = el('div', 'receipt', 'receipt: ' + parts.join(' · '));
  if (u.receipt) r.title = u.receipt.energy_method;
  return r;
}

// ---- tabs ----
for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => {
    for (const x of document.querySelectorAll('nav button')) x.classList.toggle('active', x === b);
    for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.id === b.dataset.tab);
  });
}

let modelId = '';
fetch('/v1/models', { headers: headers() }).then((r) => r.json()).then((j) => {
  if (j.data && j.data[0]) {
    modelId = j.data[0].id;
    $('model').textContent = `model ${modelId}, ${j.data[0].meta.n_params.toLocaleString()} parameters, ${j.data[0].meta.slots} slots`;
  }
}).catch(() => {});

// ---- chat ----
const history = [];

async function readSSE(response, onEvent) {
  const reader = response.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of ev.split('\n')) if (line.startsWith('data: ')) onEvent(line.slice(6));
    }
  }
}

$('chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text) return;
  $('chat-input').value = '';
  history.push({ role: 'user', content: text });
  $('messages').append(el('div', 'msg user', text));
  const box = el('div', 'msg assistant');
  const content = el('span', 'content');
  box.append(content);
  $('messages').append(box);
  const req = {
    model: modelId || 'default', messages: history, max_tokens: Number($('max_tokens').value),
    temperature: Number($('temperature').value), top_p: Number($('top_p').value), stream: $('stream').checked,
  };
  if ($('seed').value !== '') req.seed = Number($('seed').value);
  if ($('format').value !== 'text') req.response_format = { type: $('format').value };
  $('send').disabled = true;
  try {
    let answer = '';
    if (req.stream) {
      const r = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(req) });
      if (!r.ok) throw new Error(((await r.json()).error || {}).message || `HTTP ${r.status}`);
      await readSSE(r, (data) => {
        if (data === '[DONE]') return;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        if (j.usage) box.append(receipt(j.usage));
        for (const c of j.choices) if (c.delta && c.delta.content) { answer += c.delta.content; content.textContent = answer; }
      });
    } else {
      const j = await post('/v1/chat/completions', req);
      answer = j.choices[0].message.content;
      content.textContent = answer;
      box.append(receipt(j.usage));
    }
    box.dataset.done = '1';
    history.push({ role: 'assistant', content: answer });
  } catch (err) {
    box.classList.add('error');
    content.textContent = err.message;
    history.pop();
  } finally {
    $('send').disabled = false;
  }
});
$('clear').addEventListener('click', () => { history.length = 0; $('messages').textContent = ''; });

// ---- Is this AI? ----
$('detect-run').addEventListener('click', async () => {
  const out = $('detect-result');
  out.textContent = 'scoring…';
  try {
    const j = await post('/v1/detect', { text: $('detect-input').value, method: $('method').value });
    out.textContent = '';
    out.append(el('div', 'verdict', j.verdict));
    const thr = j.threshold === null ? '' : ` (AI at ${j.higher_is_ai ? '≥' : '≤'} ${j.threshold.toFixed(3)}, human at ${j.higher_is_ai ? '≤' : '≥'} ${j.threshold_human.toFixed(3)}${j.calibrated ? `, calibrated for ${(j.target_fpr * 100).toFixed(0)}% false positives` : ', not calibrated'})`;
    out.append(el('div', 'muted', `${j.method} score ${j.score === null ? '–' : j.score.toFixed(3)}${thr}; ${j.n_tokens} tokens, perplexity ${j.perplexity === null ? '–' : j.perplexity.toFixed(1)}`));
    out.append(el('div', 'muted', j.reason));
    for (const w of j.warnings) out.append(el('div', 'error', w));
    const legend = el('div', 'legend');
    legend.append(el('span', 'lean-ai', 'leans AI'), el('span', 'lean-human', 'leans human'), el('span', 'lean-neutral', 'neutral'));
    out.append(legend);
    const ss = el('div', 'sentences');
    for (const s of j.sentences) {
      const span = el('span', `sentence lean-${s.lean}`, s.text);
      span.title = `score ${s.score === null ? '–' : s.score.toFixed(3)}, perplexity ${s.perplexity === null ? '–' : s.perplexity.toFixed(1)}, ${s.n_tokens} tokens`;
      ss.append(span, document.createTextNode(' '));
    }
    out.append(ss);
    out.append(receipt(j.usage));
  } catch (err) {
    out.textContent = '';
    out.append(el('div', 'error', err.message));
  }
});

// ---- cost calculator ----
fetch('/v1/estimate/presets', { headers: headers() }).then((r) => r.json()).then((j) => {
  for (const p of j.presets || []) {
    const o = el('option', '', `${p.name}: ${p.title}`);
    o.value = p.name;
    $('preset').append(o);
  }
}).catch(() => {});

$('cost-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('cost-result');
  const body = {};
  if ($('preset').value) body.preset = $('preset').value;
  for (const input of $('cost-form').querySelectorAll('input[name]')) if (input.value.trim()) body[input.name] = input.value.trim();
  try {
    const j = await post('/v1/estimate', body);
    out.textContent = '';
    if (j.title) out.append(el('h3', '', j.title));
    const table = el('table');
    const head = el('tr');
    head.append(el('th', '', 'result'), el('th', '', 'estimate'), el('th', '', 'published'), el('th', '', 'how'));
    table.append(head);
    for (const [k, r] of Object.entries(j.results)) {
      const tr = el('tr');
      tr.append(el('td', '', k.replace(/_/g, ' ')), el('td', '', r.text), el('td', '', r.published || ''), el('td', 'how', r.formula || ''));
      table.append(tr);
    }
    out.append(table);
    const at = el('table');
    for (const [k, r] of Object.entries(j.assumptions)) {
      const tr = el('tr');
      tr.append(el('td', '', k.replace(/_/g, ' ')), el('td', '', r.text), el('td', 'how', r.source || ''));
      at.append(tr);
    }
    out.append(el('h4', '', 'assumptions'), at);
  } catch (err) {
    out.textContent = '';
    out.append(el('div', 'error', err.message));
  }
});
