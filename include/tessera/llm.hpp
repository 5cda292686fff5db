// Feature umbrella for LLM inference (not part of tessera.hpp): GGUF and llama2.c models,
// sessions with their KV cache, the generation loop and the blocks they are built from, and
// the text side (tokenizers, detokenizing streams, sampling, chat templates) with
// text_generator, which ties them together: text in, text out.
#pragma once

#include <tessera/llm/attention.hpp>
#include <tessera/llm/blocks.hpp>
#include <tessera/llm/chat_template.hpp>
#include <tessera/llm/config.hpp>
#include <tessera/llm/detokenizer.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/rope.hpp>
#include <tessera/llm/sampling.hpp>
#include <tessera/llm/session.hpp>
#include <tessera/llm/text_generation.hpp>
#include <tessera/llm/tokenizer.hpp>
#include <tessera/llm/weights.hpp>
