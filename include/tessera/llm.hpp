// Feature umbrella for LLM inference (not part of tessera.hpp): GGUF and llama2.c models,
// sessions with their KV cache, the generation loop, and the blocks they are built from.
#pragma once

#include <tessera/llm/attention.hpp>
#include <tessera/llm/blocks.hpp>
#include <tessera/llm/config.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/rope.hpp>
#include <tessera/llm/session.hpp>
#include <tessera/llm/weights.hpp>
