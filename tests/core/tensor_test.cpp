#include <tessera/core/tensor.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace tessera;

namespace {
Tensor<float> iota(const shape_t& s) {
  auto t = Tensor<float>::empty(s);
  REQUIRE(t.ok());
  for (index_t i = 0; i < t->size(); ++i) t->data()[i] = static_cast<float>(i);
  return std::move(t).value();
}
std::vector<float> elements(TensorView<const float> v) {
  std::vector<float> out;
  for_each_offset(v, [&](index_t off) { out.push_back(v.data()[off]); });
  return out;
}
}  // namespace

TEST_SUITE("core/tensor") {
  TEST_CASE("an owning tensor is aligned, contiguous and row-major") {
    Tensor<float> t = iota({2, 3, 4});
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % TESSERA_ALIGNMENT == 0);
    CHECK(t.size() == 24);
    CHECK(t.view().is_contiguous());
    CHECK(t(1, 2, 3) == 23.0f);
    CHECK(t(0, 1, 0) == 4.0f);
    CHECK(t.view().strides() == strides_t{12, 4, 1});
  }

  TEST_CASE("bad shapes are errors, not allocations") {
    CHECK(Tensor<float>::empty({-1, 3}).err().code == errc::invalid_argument);
    CHECK(Tensor<float>::empty({index_t{1} << 40, index_t{1} << 40}).err().code == errc::out_of_memory);
    CHECK(Tensor<float>::empty({1, 2, 3, 4, 5, 6, 7, 8, 9}).err().code == errc::invalid_argument);
    CHECK(Tensor<float>::zeros({0, 5}).ok());
  }

  TEST_CASE("reshape is a view and infers one extent") {
    Tensor<float> t = iota({2, 6});
    auto r = t.view().reshape({3, -1});
    REQUIRE(r.ok());
    CHECK(r->shape() == shape_t{3, 4});
    CHECK(r->data() == t.data());
    CHECK((*r)(2, 3) == 11.0f);
    CHECK(t.view().reshape({5, -1}).err().code == errc::shape_mismatch);
    CHECK(t.view().reshape({4, 4}).err().code == errc::shape_mismatch);
    CHECK(t.view().reshape({-1, -1}).err().code == errc::invalid_argument);
    auto tr = t.view().transpose();
    REQUIRE(tr.ok());
    CHECK(tr->reshape({12}).err().code == errc::invalid_argument);  // non-contiguous
  }

  TEST_CASE("transpose and permute swap strides without copying") {
    Tensor<float> t = iota({2, 3, 4});
    auto tr = t.view().transpose(0, 2);
    REQUIRE(tr.ok());
    CHECK(tr->shape() == shape_t{4, 3, 2});
    CHECK_FALSE(tr->is_contiguous());
    for (index_t i = 0; i < 2; ++i)
      for (index_t j = 0; j < 3; ++j)
        for (index_t k = 0; k < 4; ++k) CHECK((*tr)(k, j, i) == t(i, j, k));
    auto p = t.view().permute({1, 2, 0});
    REQUIRE(p.ok());
    CHECK(p->shape() == shape_t{3, 4, 2});
    CHECK((*p)(2, 1, 1) == t(1, 2, 1));
    CHECK(t.view().permute({0, 0, 1}).err().code == errc::invalid_argument);
    CHECK(t.view().permute({0, 1}).err().code == errc::invalid_argument);
    CHECK(t.view().transpose(0, 3).err().code == errc::invalid_argument);
  }

  TEST_CASE("slice and select narrow a view with bounds checks") {
    Tensor<float> t = iota({4, 5});
    auto s = t.view().slice(1, 1, 5, 2);
    REQUIRE(s.ok());
    CHECK(s->shape() == shape_t{4, 2});
    CHECK(elements(*s) == std::vector<float>{1, 3, 6, 8, 11, 13, 16, 18});
    auto row = t.view().select(0, 2);
    REQUIRE(row.ok());
    CHECK(row->rank() == 1);
    CHECK(elements(*row) == std::vector<float>{10, 11, 12, 13, 14});
    auto empty = t.view().slice(0, 2, 2);
    REQUIRE(empty.ok());
    CHECK(empty->size() == 0);
    CHECK(t.view().slice(1, 0, 6).err().code == errc::out_of_range);
    CHECK(t.view().slice(1, 3, 2).err().code == errc::out_of_range);
    CHECK(t.view().slice(1, 0, 2, 0).err().code == errc::invalid_argument);
    CHECK(t.view().select(0, 4).err().code == errc::out_of_range);
    CHECK(t.view().at({3, 4}).ok());
    CHECK(t.view().at({4, 0}).err().code == errc::out_of_range);
  }

  TEST_CASE("broadcast_to stretches extent-1 axes with stride 0") {
    Tensor<float> t = iota({3, 1});
    auto b = t.view().broadcast_to({2, 3, 4});
    REQUIRE(b.ok());
    CHECK(b->strides() == strides_t{0, 1, 0});
    CHECK((*b)(1, 2, 3) == 2.0f);
    CHECK(t.view().broadcast_to({3, 2, 2}).err().code == errc::shape_mismatch);
    auto bs = broadcast_shapes({4, 1, 3}, {5, 1});
    REQUIRE(bs.ok());
    CHECK(*bs == shape_t{4, 5, 3});
    CHECK(broadcast_shapes({2, 3}, {4}).err().code == errc::shape_mismatch);
  }

  TEST_CASE("copy_of materialises strided views contiguously") {
    Tensor<float> t = iota({3, 4});
    auto tr = t.view().transpose();
    REQUIRE(tr.ok());
    auto c = Tensor<float>::copy_of(*tr);
    REQUIRE(c.ok());
    CHECK(c->shape() == shape_t{4, 3});
    CHECK((*c)(3, 2) == t(2, 3));
    auto cl = t.clone();
    REQUIRE(cl.ok());
    CHECK(cl->data() != t.data());
    CHECK(elements(cl->view()) == elements(t.view()));
  }

  TEST_CASE("views of other dtypes and block types") {
    auto h = Tensor<f16>::full({2, 2}, f16(1.5f));
    REQUIRE(h.ok());
    CHECK(static_cast<float>((*h)(1, 1)) == 1.5f);
    CHECK(h->type() == dtype::f16);
    auto q = Tensor<block_q8_0>::zeros({4, 2});  // 4 rows of 64 elements
    REQUIRE(q.ok());
    CHECK(q->type() == dtype::q8_0);
    CHECK(q->size() * traits_of(dtype::q8_0).block_elements == 256);
    Tensor<float> f = iota({2});
    TensorView<const float> cv = f.view();  // mutable -> const view conversion
    CHECK(cv(1) == 1.0f);
  }
}
