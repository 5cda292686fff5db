// Node tests of tessera-web/llm against the staged package (ctest wasm/js_llm):
//   node --test js/test/llm.test.js     (TESSERA_WEB_PACKAGE=<build>/js/package, default build/wasm)
// The model: tests/web/llm_fixture's random-weight llama with a trained SentencePiece
// vocabulary and a ChatML template, written at test time. Oracles: tessera-llm's greedy ids
// (`generate --prompt-ids ... --print-token-ids`) and llm_fixture's sampled ids
// (llm::generate with an llm::sampler), from the native build next to this one when there is
// one (build/native beside build/wasm), else from this build's WASM binaries under Node.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openAsBlob, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { buildDir, importPackage } from './helpers.js';

const { loadLLM, TesseraError } = await importPackage('llm');

// A tool of the native build beside this one, or this build's WASM one under Node.
function tool(relative) {
  const native = path.join(buildDir, '..', 'native', relative);
  if (existsSync(native)) return [native];
  const wasm = path.join(buildDir, `${relative}.js`);
  if (existsSync(wasm)) return [process.execPath, wasm];
  return null;
}
const fixtureTool = tool(path.join('tests', 'web', 'llm_fixture'));
const cli = tool(path.join('examples', 'tessera-llm', 'tessera-llm'));
const run = (command, args) => execFileSync(command[0], [...command.slice(1), ...args],
  { encoding: 'utf8', env: { ...process.env, NODE_PATH: '/usr/share/nodejs' } }).trim();
const idsOf = (line) => Int32Array.from(line.split(/\s+/).filter(Boolean).map(Number));

const work = mkdtempSync(path.join(tmpdir(), 'tessera-llm-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const modelPath = path.join(work, 'model.gguf');
if (!fixtureTool) throw new Error(`llm_fixture was not built (cmake --build ${buildDir} --target llm_fixture)`);
run(fixtureTool, ['model', '--out', modelPath, '--context', '512']);

const PROMPT = [1, 57, 300, 42, 611, 9, 128, 77, 404, 5, 250, 18, 33, 690, 101, 64, 7, 222, 310, 45, 12, 99, 150, 3, 500,
  33, 17, 8, 260, 61, 130, 201, 90, 400, 11];  // 35 ids: two prompt batches of 32 and a tail
const GREEDY_TOKENS = 48;
const greedy = cli
  ? idsOf(run(cli, ['generate', '--model', modelPath, '--prompt-ids', PROMPT.join(' '), '-n', String(GREEDY_TOKENS), '--temperature', '0', '--print-token-ids']))
  : null;
const SAMPLING = { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, seed: 1234 };
const sampled = idsOf(run(fixtureTool, ['sample', '--model', modelPath, '--prompt-ids', PROMPT.join(' '), '-n', '40',
  '--seed', '1234', '--temperature', '0.9', '--top-k', '40', '--top-p', '0.95', '--min-p', '0.05', '--repeat-penalty', '1.1']));

const GREEDY = { temperature: 0, maxTokens: GREEDY_TOKENS, stopAtEog: false };

describe('generation equals tessera natively', () => {
  const flavours = [
    { name: 'worker, st', options: { threads: 1 } },
    { name: 'main thread', options: { worker: false } },
    { name: 'worker, mt, 2 threads', options: { threads: 2 } },
  ];
  for (const { name, options } of flavours) {
    it(`greedy ids equal tessera-llm's, sampled ids llm::sampler's (${name})`, { skip: !greedy && 'tessera-llm was not built' }, async () => {
      const llm = await loadLLM(modelPath, options);
      try {
        if (options.threads === 2) {
          assert.equal(llm.runtime.flavour, 'mt');
          assert.equal(llm.runtime.threads, 2);
        }
        assert.equal(llm.runtime.worker, options.worker !== false);
        const result = await llm.generate(PROMPT, GREEDY);
        assert.deepEqual(result.tokens, greedy);
        assert.equal(result.stopReason, 'max_tokens');
        assert.equal(result.timings.promptTokens, PROMPT.length);
        assert.equal(result.timings.generatedTokens, GREEDY_TOKENS);
        assert.ok(result.timings.firstTokenMs > 0 && result.timings.tokensPerSec > 0 && result.timings.promptTokensPerSec > 0);
        const s = await llm.generate(PROMPT, { ...SAMPLING, maxTokens: 40, stopAtEog: false });
        assert.deepEqual(s.tokens, sampled);
        assert.equal(s.timings.reusedTokens, PROMPT.length - 1, 'the KV cache kept the shared prompt');
        assert.equal(s.seed, 1234);
      } finally {
        await llm.dispose();
      }
    });
  }
});

describe('loading', () => {
  const sources = {
    path: () => modelPath,
    ArrayBuffer: () => {
      const b = readFileSync(modelPath);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    },
    Blob: () => openAsBlob(modelPath),
  };
  for (const [kind, make] of Object.entries(sources)) {
    it(`from ${kind}: progress up to the file's size, the model described`, async () => {
      const events = [];
      const llm = await loadLLM(await make(), { threads: 1, onProgress: (p) => events.push(p) });
      try {
        const bytes = events.filter((e) => e.phase === 'download');
        assert.ok(bytes.length >= 2);
        assert.equal(bytes[bytes.length - 1].loaded, readFileSync(modelPath).byteLength);
        assert.equal(llm.timings.bytes, readFileSync(modelPath).byteLength);
        assert.ok(llm.timings.warmup.firstCallMs > 0);
        assert.equal(llm.info.architecture, 'llama');
        assert.equal(llm.info.vocabSize, 700);
        assert.equal(llm.info.contextLength, 512);
        assert.equal(llm.context, 512);
        assert.equal(llm.batch, 32);
        assert.equal(llm.info.tokenizer.model, 'spm');
        assert.equal(llm.info.chatTemplate.format, 'chatml');
        assert.equal(llm.info.fileBytes, llm.timings.bytes);
      } finally {
        await llm.dispose();
      }
    });
  }
});

describe('text, streaming, stops, chat', () => {
  it('promptF32 feeds a prompt batch as f32 products and generates on', async () => {
    const llm = await loadLLM(modelPath, { threads: 1, promptF32: true });
    try {
      const { tokens, timings } = await llm.generate(PROMPT, { temperature: 0, maxTokens: 8, stopAtEog: false });
      assert.equal(tokens.length, 8);
      assert.equal(timings.promptTokens, PROMPT.length);
    } finally {
      await llm.dispose();
    }
  });

  it('the async iterator, onToken and the result agree; tokenize and detokenize round-trip', async () => {
    const llm = await loadLLM(modelPath, { threads: 1, context: 256, kvCache: 'f16' });
    try {
      assert.equal(llm.context, 256);
      const text = 'The licensor grants you a copyright license; été € 42.';
      const ids = await llm.tokenize(text);
      assert.equal(ids[0], llm.info.tokenizer.bos);
      assert.equal(await llm.detokenize(ids), text);
      const tokens = [];
      let iterated = '';
      let perToken = '';
      const generation = llm.generate(text, { temperature: 0, maxTokens: 40, stopAtEog: false,
        onToken: ({ id, text: piece }) => { tokens.push(id); perToken += piece; } });
      for await (const piece of generation) iterated += piece;
      const result = await generation;
      assert.equal(iterated, result.text);
      assert.equal(perToken, result.text);
      assert.deepEqual(Int32Array.from(tokens), result.tokens);
      assert.equal(result.tokens.length, 40);
      // The same ids from the ids of the text (the cache kept all but the last prompt token).
      const again = await llm.generate(ids, { temperature: 0, maxTokens: 40, stopAtEog: false });
      assert.deepEqual(again.tokens, result.tokens);
      assert.equal(again.timings.reusedTokens, ids.length - 1);
      // Text that is valid UTF-8 is what detokenize says; invalid bytes (random weights pick
      // stray byte tokens) show as U+FFFD in both.
      const decoded = await llm.detokenize(result.tokens);
      assert.equal(result.text.replace(/\uFFFD+/g, '\uFFFD'), decoded.replace(/\uFFFD+/g, '\uFFFD'));
    } finally {
      await llm.dispose();
    }
  });

  it('stop strings end the text before them; onToken returning false and leaving the loop stop the generation', async () => {
    const llm = await loadLLM(modelPath, { threads: 1 });
    try {
      const full = await llm.generate(PROMPT, { temperature: 0, maxTokens: 60, stopAtEog: false });
      const stop = full.text.slice(20, 24);
      const stopped = await llm.generate(PROMPT, { temperature: 0, maxTokens: 60, stopAtEog: false, stop: ['never seen', stop] });
      assert.equal(stopped.stopReason, 'stop_string');
      assert.equal(stopped.text, full.text.slice(0, full.text.indexOf(stop)));

      let seen = 0;
      const byCallback = await llm.generate(PROMPT, { temperature: 0, maxTokens: 60, stopAtEog: false, onToken: () => ++seen < 5 });
      assert.equal(byCallback.stopReason, 'cancelled');
      assert.ok(byCallback.tokens.length >= 5 && byCallback.tokens.length < 60);
      assert.deepEqual(byCallback.tokens, full.tokens.subarray(0, byCallback.tokens.length));

      const generation = llm.generate(PROMPT, { temperature: 0, maxTokens: 60, stopAtEog: false });
      let pieces = 0;
      for await (const piece of generation) {
        assert.equal(typeof piece, 'string');
        if (++pieces === 3) break;
      }
      const left = await generation;
      assert.equal(left.stopReason, 'cancelled');
      assert.ok(left.tokens.length < 60);
      // The model is free again.
      assert.equal((await llm.generate(PROMPT, { temperature: 0, maxTokens: 3, stopAtEog: false })).tokens.length, 3);
    } finally {
      await llm.dispose();
    }
  });

  it('an AbortSignal rejects with a cancelled TesseraError carrying the partial result', async () => {
    const llm = await loadLLM(modelPath, { threads: 1 });
    try {
      const controller = new AbortController();
      let n = 0;
      await assert.rejects(llm.generate(PROMPT, { temperature: 0, maxTokens: 200, stopAtEog: false, signal: controller.signal,
        onToken: () => { if (++n === 4) controller.abort(); } }), (e) => e instanceof TesseraError && e.code === 'cancelled' &&
          e.partial.tokens.length >= 4 && e.partial.tokens.length < 200 && e.partial.stopReason === 'cancelled');
      const aborted = new AbortController();
      aborted.abort(new Error('the user left'));
      await assert.rejects(llm.generate(PROMPT, { signal: aborted.signal }), /cancelled: the user left/);
      assert.equal((await llm.generate(PROMPT, { temperature: 0, maxTokens: 2, stopAtEog: false })).tokens.length, 2);
    } finally {
      await llm.dispose();
    }
  });

  it('chat: the ChatML prompt, the earlier turns kept in the KV cache, the same answer as from an empty cache', async () => {
    const llm = await loadLLM(modelPath, { threads: 1 });
    try {
      const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What does the license grant?' }];
      assert.equal(await llm.applyChatTemplate(messages),
        '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat does the license grant?<|im_end|>\n<|im_start|>assistant\n');
      const first = await llm.chat(messages, { temperature: 0, maxTokens: 12 });
      const conversation = [...messages, { role: 'assistant', content: first.text }, { role: 'user', content: 'And the patents?' }];
      const second = await llm.chat(conversation, { temperature: 0, maxTokens: 12 });
      assert.ok(second.timings.reusedTokens >= first.timings.promptTokens, `${second.timings.reusedTokens} tokens reused`);
      await llm.reset();
      const fresh = await llm.chat(conversation, { temperature: 0, maxTokens: 12 });
      assert.equal(fresh.timings.reusedTokens, 0);
      assert.deepEqual(fresh.tokens, second.tokens);
      await llm.setChatTemplate('llama3');
      assert.equal(llm.info.chatTemplate.format, 'llama3');
      assert.match(await llm.applyChatTemplate([{ role: 'user', content: 'Hi' }]), /^<\|start_header_id\|>user<\|end_header_id\|>\n\nHi<\|eot_id\|>/);
    } finally {
      await llm.dispose();
    }
  });
});

describe('errors are TesseraErrors carrying tessera\'s message', () => {
  for (const worker of [true, false]) {
    it(`bad models, prompts and options (${worker ? 'worker' : 'main thread'})`, async () => {
      await assert.rejects(loadLLM(new TextEncoder().encode('<!DOCTYPE html><p>not found</p>'), { worker }),
        (e) => e instanceof TesseraError && e.code === 'parse_error' && /GGUF|gguf/.test(e.message));
      const truncated = readFileSync(modelPath).subarray(0, 50000);
      await assert.rejects(loadLLM(truncated, { worker }), (e) => e instanceof TesseraError && e.message.length > 10);
      await assert.rejects(loadLLM(modelPath, { worker, context: 100000 }), /exceeds the model's 512/);
      await assert.rejects(loadLLM(modelPath, { worker, promptF32: 'yes' }), /promptF32 must be a boolean/);
      const llm = await loadLLM(modelPath, { worker, threads: 1 });
      try {
        await assert.rejects(llm.generate([1, 700]), (e) => e instanceof TesseraError && e.code === 'out_of_range' && /id 700/.test(e.message));
        await assert.rejects(llm.generate(PROMPT, { topP: 2 }), (e) => e.code === 'invalid_argument' && /top_p/.test(e.message));
        await assert.rejects(llm.generate(PROMPT, { temperature: 'hot' }), /temperature must be a number/);
        await assert.rejects(llm.generate(new Array(600).fill(5)), /context of 512/);
        await assert.rejects(llm.chat([{ role: 'user' }]), /chat message 0/);
        await assert.rejects(llm.detokenize([1, -3]), /id -3/);
        const running = llm.generate(PROMPT, { temperature: 0, maxTokens: 20 });
        await assert.rejects(llm.generate(PROMPT), /already running/);
        await running;
        // Still usable after every error.
        assert.equal((await llm.generate(PROMPT, { temperature: 0, maxTokens: 3, stopAtEog: false })).tokens.length, 3);
      } finally {
        await llm.dispose();
      }
      await assert.rejects(llm.generate(PROMPT), /disposed/);
      await assert.rejects(llm.tokenize('x'), /disposed/);
    });
  }
});
