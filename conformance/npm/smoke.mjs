// Smoke run of the official npm SDKs (openai, @anthropic-ai/sdk) against a running llmgw.
//
//   LLMGW_URL=http://127.0.0.1:8080 LLMGW_KEY=<key> node conformance/npm/smoke.mjs
//
// Uses the built-in mock provider (mock/echo, mock/embed), so no provider key is needed.
// Prints one line per passed check; stops at the first failure with a non-zero exit.
// app/npm_smoke_test.go runs it against an in-process gateway as part of `make test`.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const url = process.env.LLMGW_URL;
const key = process.env.LLMGW_KEY;
if (!url || !key) {
  console.error('FAIL setup: LLMGW_URL and LLMGW_KEY must be set');
  process.exit(2);
}

// Request bodies the OpenAI SDK sent, so checks can assert what the SDK asked for.
const sent = [];
const recordingFetch = async (input, init) => {
  if (init && typeof init.body === 'string') sent.push(JSON.parse(init.body));
  return fetch(input, init);
};

const common = { maxRetries: 0, timeout: 30_000 };
const openai = new OpenAI({ ...common, baseURL: `${url}/v1`, apiKey: key, fetch: recordingFetch });
// authToken: null so an ANTHROPIC_AUTH_TOKEN in the environment cannot add a second credential.
const anthropic = (apiKey) => new Anthropic({ ...common, baseURL: url, apiKey, authToken: null });

const words = (s) => s.split(/\s+/).filter(Boolean).length;

let passed = 0;
async function check(name, fn) {
  try {
    await fn();
  } catch (err) {
    console.error(`FAIL ${name}: ${err?.stack ?? err}`);
    console.error(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  passed++;
  console.log(`ok   ${name}`);
}

// expectError runs fn, which must throw an instance of cls with HTTP status.
async function expectError(fn, cls, status) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name} (${status}), the call succeeded`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status);
  return err;
}

// ---- openai ----

await check('openai: chat completion echoes the last user message', async () => {
  const text = 'hello from the openai npm package';
  const r = await openai.chat.completions.create({
    model: 'mock/echo',
    messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: text }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, text);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage?.completion_tokens, words(text));
  assert.equal(r.usage?.prompt_tokens, words('be brief') + words(text));
});

await check('openai: streamed chat completion, deltas concatenate to the echo, usage chunk last', async () => {
  const text = 'stream these seven words back to me';
  const stream = await openai.chat.completions.create({
    model: 'mock/echo',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: text }],
  });
  let got = '';
  let deltas = 0;
  let finish = null;
  let usage = null;
  let afterUsage = 0;
  for await (const chunk of stream) {
    if (usage) afterUsage++;
    for (const c of chunk.choices) {
      if (c.delta?.content) {
        got += c.delta.content;
        deltas++;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) {
      assert.equal(chunk.choices.length, 0, 'the usage chunk must have no choices');
      usage = chunk.usage;
    }
  }
  assert.equal(got, text);
  assert.ok(deltas >= 2, `want the answer in several deltas, got ${deltas}`);
  assert.equal(finish, 'stop');
  assert.ok(usage, 'no usage chunk although stream_options.include_usage was true');
  assert.equal(afterUsage, 0, 'the usage chunk must be the last chunk');
  assert.equal(usage.completion_tokens, words(text));
  assert.equal(usage.prompt_tokens, words(text));
  assert.equal(usage.total_tokens, 2 * words(text));
});

await check('openai: streamed chat completion without include_usage has no usage chunk', async () => {
  const stream = await openai.chat.completions.create({
    model: 'mock/echo',
    stream: true,
    messages: [{ role: 'user', content: 'no usage please' }],
  });
  let got = '';
  for await (const chunk of stream) {
    assert.ok(!chunk.usage, `unexpected usage chunk: ${JSON.stringify(chunk)}`);
    got += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(got, 'no usage please');
});

await check('openai: embeddings (base64 by default, decoded): 16 floats, unit length, deterministic', async () => {
  const embed = async (input) => {
    sent.length = 0;
    const r = await openai.embeddings.create({ model: 'mock/embed', input });
    assert.equal(sent.length, 1);
    assert.equal(sent[0].encoding_format, 'base64', 'the SDK was expected to ask for base64');
    return r;
  };
  const a = await embed(['alpha', 'beta']);
  assert.equal(a.data.length, 2);
  for (const [i, d] of a.data.entries()) {
    assert.equal(d.index, i);
    assert.ok(Array.isArray(d.embedding), `embedding ${i} was not decoded to an array: ${typeof d.embedding}`);
    assert.equal(d.embedding.length, 16);
    assert.ok(d.embedding.every(Number.isFinite), `embedding ${i} has non-finite values`);
    const norm = Math.hypot(...d.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-4, `embedding ${i} is not a unit vector (norm ${norm})`);
  }
  assert.notDeepEqual(a.data[0].embedding, a.data[1].embedding, 'different inputs gave the same vector');
  const b = await embed(['alpha', 'beta']);
  assert.deepEqual(b.data.map((d) => d.embedding), a.data.map((d) => d.embedding), 'not deterministic');
  assert.equal(a.usage?.prompt_tokens, 2);
});

await check('openai: models.list contains mock/echo and mock/embed', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  for (const want of ['mock/echo', 'mock/embed']) {
    assert.ok(ids.includes(want), `${want} missing from models.list: ${JSON.stringify(ids)}`);
  }
});

await check('openai: a bad key gives AuthenticationError (401)', async () => {
  const bad = new OpenAI({ ...common, baseURL: `${url}/v1`, apiKey: 'llmgw-not-a-real-key' });
  const err = await expectError(
    () => bad.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
    OpenAI.AuthenticationError,
    401,
  );
  assert.equal(err.code, 'invalid_api_key');
});

await check('openai: an unknown model gives NotFoundError (404)', async () => {
  const err = await expectError(
    () => openai.chat.completions.create({ model: 'mock/no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    OpenAI.NotFoundError,
    404,
  );
  assert.equal(err.code, 'model_not_found');
  assert.equal(err.param, 'model');
});

// ---- @anthropic-ai/sdk (the Messages API, translated to the chat pipeline) ----

await check('anthropic: messages.create on mock/echo returns the text', async () => {
  const text = 'hello from the anthropic npm package';
  const m = await anthropic(key).messages.create({
    model: 'mock/echo',
    max_tokens: 64,
    system: 'be brief',
    messages: [{ role: 'user', content: text }],
  });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, text);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.usage.output_tokens, words(text));
  assert.ok(m.usage.input_tokens >= words(text), `input_tokens ${m.usage.input_tokens} < ${words(text)}`);
});

await check('anthropic: messages.stream: text deltas, finalMessage text and usage', async () => {
  const text = 'stream this answer word by word';
  const stream = anthropic(key).messages.stream({
    model: 'mock/echo',
    max_tokens: 64,
    messages: [{ role: 'user', content: text }],
  });
  let got = '';
  let deltas = 0;
  stream.on('text', (t) => {
    got += t;
    deltas++;
  });
  const m = await stream.finalMessage();
  assert.equal(got, text);
  assert.ok(deltas >= 2, `want the answer in several text deltas, got ${deltas}`);
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, text);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.usage.output_tokens, words(text));
  assert.equal(m.usage.input_tokens, words(text));
});

await check('anthropic: a bad key gives AuthenticationError (401)', async () => {
  const err = await expectError(
    () =>
      anthropic('llmgw-not-a-real-key').messages.create({
        model: 'mock/echo',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    Anthropic.AuthenticationError,
    401,
  );
  assert.equal(err.error?.error?.type, 'authentication_error');
});

console.log(`${passed} passed, 0 failed`);
