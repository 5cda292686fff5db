// Feature umbrella for ONNX models (not included by tessera.hpp): the protobuf decoder, the
// graph importer with its op table, the planner and the session that runs a model.
//
//   auto model = tessera::onnx::model::load("net.onnx");
//   auto s = tessera::onnx::session::create(*model);
//   s->run({{"input", tessera::nn::any_view(x, tessera::nn::elem_type::f32, {1, 3, 224, 224})}});
//   tessera::nn::any_view y = s->output(0);
#pragma once

#include "tessera/onnx/model_proto.hpp"
#include "tessera/onnx/attributes.hpp"
#include "tessera/onnx/op.hpp"
#include "tessera/onnx/registry.hpp"
#include "tessera/onnx/graph.hpp"
#include "tessera/onnx/plan.hpp"
#include "tessera/onnx/session.hpp"
