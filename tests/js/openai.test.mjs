// The official `openai` npm client against `flops serve` on the shipped model: chat (streamed and
// not), completions with logprobs, embeddings, json_schema output that validates, error cases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { checkPrerequisites, startServer } from './server.mjs';
import { validate } from './schema.mjs';

checkPrerequisites();
const { default: OpenAI } = await import('openai');

let srv, client;
before(async () => {
  srv = await startServer(['-np', '4', '--api-key', 'test-key-123']);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'test-key-123', maxRetries: 0, timeout: 60000 });
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, `server exit code (stderr: ${srv.stderr()})`);
});

function checkUsage(u) {
  assert.ok(u.prompt_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens + (u.completion_tokens ?? 0));
  assert.ok(u.flops > 0, 'flops counted');
  assert.ok(u.seconds > 0);
  assert.ok(u.joules > 0);
  assert.ok(u.co2e_g > 0);
  assert.ok(['measured', 'modeled'].includes(u.energy_source));
}

test('models lists the served model', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['flops-a']);
});

test('chat, not streamed, with a receipt in usage', async () => {
  const r = await client.chat.completions.create({
    model: 'flops-a', messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 24, seed: 7, temperature: 0.8,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  checkUsage(r.usage);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 24);
});

test('chat streamed: the deltas add up to the same answer, usage comes last', async () => {
  const req = { model: 'flops-a', messages: [{ role: 'user', content: 'Write about a garden.' }], max_tokens: 30, seed: 11, temperature: 0.9 };
  const whole = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '', role = null, finish = null, usage = null, chunks = 0;
  for await (const ch of stream) {
    chunks++;
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.ok(chunks > 3, `${chunks} chunks`);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  checkUsage(usage);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
});

test('chat logprobs and n choices', async () => {
  const r = await client.chat.completions.create({
    model: 'flops-a', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, n: 3, seed: 3, logprobs: true, top_logprobs: 2,
  });
  assert.equal(r.choices.length, 3);
  for (const c of r.choices) {
    const lp = c.logprobs.content;
    assert.ok(lp.length > 0);
    for (const t of lp) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 2);
      assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
      assert.ok(t.logprob <= t.top_logprobs[0].logprob + 1e-9);
    }
    assert.equal(lp.map((t) => t.token).join(''), c.message.content);
  }
});

test('completions with logprobs; echo scores the prompt for evaluation harnesses', async () => {
  const prompt = 'It is a truth universally acknowledged, that a single man';
  const r = await client.completions.create({ model: 'flops-a', prompt, max_tokens: 10, temperature: 0, logprobs: 3 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, r.usage.completion_tokens);
  assert.equal(lp.tokens.join(''), r.choices[0].text);
  for (let i = 0; i < lp.tokens.length; i++) {
    // Greedy: the chosen token is the most likely one.
    const best = Math.max(...Object.values(lp.top_logprobs[i]));
    assert.ok(Math.abs(lp.token_logprobs[i] - best) < 1e-9);
  }
  const e = await client.completions.create({ model: 'flops-a', prompt, max_tokens: 0, echo: true, logprobs: 0 });
  const elp = e.choices[0].logprobs;
  assert.equal(e.choices[0].text, prompt);
  assert.equal(elp.token_logprobs[0], null);
  assert.equal(elp.tokens.join(''), prompt);
  const sum = elp.token_logprobs.slice(1).reduce((a, b) => a + b, 0);
  assert.ok(sum < 0);
  // The same log-probabilities as flops's own scorer.
  const sc = await fetch(`${srv.url}/v1/score`, {
    method: 'POST', headers: { Authorization: 'Bearer test-key-123' }, body: JSON.stringify({ text: prompt }),
  }).then((x) => x.json());
  const scored = sc.tokens.map((t) => t.logprob);
  assert.equal(scored.length, elp.token_logprobs.length - 1);
  for (let i = 0; i < scored.length; i++) assert.ok(Math.abs(scored[i] - elp.token_logprobs[i + 1]) < 1e-3, `token ${i}`);
});

test('completions streamed', async () => {
  const stream = await client.completions.create({ model: 'flops-a', prompt: 'Once upon a time', max_tokens: 12, seed: 5, stream: true });
  let text = '', usage = null;
  for await (const ch of stream) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) text += c.text;
  }
  const whole = await client.completions.create({ model: 'flops-a', prompt: 'Once upon a time', max_tokens: 12, seed: 5 });
  assert.equal(text, whole.choices[0].text);
  checkUsage(usage);
});

test('embeddings (the client asks for base64 by default) and floats', async () => {
  const r = await client.embeddings.create({ model: 'flops-a', input: ['a quiet morning', 'the stock market fell'] });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    assert.equal(d.embedding.length, 256);
    const norm = Math.sqrt(d.embedding.reduce((a, x) => a + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  const f = await client.embeddings.create({ model: 'flops-a', input: 'a quiet morning', encoding_format: 'float' });
  for (let i = 0; i < 256; i++) assert.ok(Math.abs(f.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
  assert.ok(r.usage.prompt_tokens > 0);
});

test('json_schema output parses and validates, across seeds', async () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 20 },
      age: { type: 'integer' },
      mood: { enum: ['happy', 'sad', 'calm'] },
      tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
    },
    required: ['name', 'age', 'mood', 'tags'],
    additionalProperties: false,
  };
  for (let seed = 0; seed < 6; seed++) {
    const r = await client.chat.completions.create({
      model: 'flops-a', messages: [{ role: 'user', content: 'Describe a person as JSON.' }], max_tokens: 80, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    const text = r.choices[0].message.content;
    const v = JSON.parse(text);
    assert.equal(validate(schema, v), null, text);
  }
  const o = await client.chat.completions.create({
    model: 'flops-a', messages: [{ role: 'user', content: 'JSON please' }], max_tokens: 40, seed: 1, response_format: { type: 'json_object' },
  });
  assert.equal(typeof JSON.parse(o.choices[0].message.content), 'object');
});

test('errors: the right status, OpenAI shape, the field named', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'flops-a', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature' && /temperature/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'flops-a', messages: [{ role: 'wizard', content: 'x' }] }),
    (e) => e.status === 400 && e.param === 'messages[0].role');
  await assert.rejects(
    client.completions.create({ model: 'flops-a', prompt: 'x', max_tokens: 10, bogus_field: 1 }),
    (e) => e.status === 400 && e.param === 'bogus_field' && /Unrecognized request argument/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-7', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(
    client.completions.create({ model: 'flops-a', prompt: 'word '.repeat(400), max_tokens: 4 }),
    (e) => e.status === 400 && e.code === 'context_length_exceeded');
  await assert.rejects(
    client.chat.completions.create({
      model: 'flops-a', messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'integer', minimum: 0 } } } } },
    }),
    (e) => e.status === 400 && e.param === 'response_format.json_schema.schema' && /unsupported keyword 'minimum'/.test(e.message));
  const bad = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const health = await fetch(`${srv.url}/health`);
  assert.equal(health.status, 200);  // /health needs no key
});
