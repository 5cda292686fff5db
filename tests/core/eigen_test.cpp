#include <tessera/eigen.hpp>

#include <doctest/doctest.h>

using namespace tessera;

TEST_SUITE("eigen") {
  TEST_CASE("a tensor view maps onto Eigen without copying, strides included") {
    auto t = Tensor<float>::empty({3, 4});
    REQUIRE(t.ok());
    for (index_t i = 0; i < 12; ++i) t->data()[i] = static_cast<float>(i);
    auto m = eigen::as_matrix(t->view());
    REQUIRE(m.ok());
    CHECK(m->rows() == 3);
    CHECK((*m)(2, 1) == 9.0f);
    (*m)(0, 0) = 42.0f;  // writes through
    CHECK((*t)(0, 0) == 42.0f);

    auto tr = t->view().transpose();
    REQUIRE(tr.ok());
    auto mt = eigen::as_matrix(*tr);
    REQUIRE(mt.ok());
    CHECK(mt->rows() == 4);
    CHECK((*mt)(1, 2) == (*t)(2, 1));

    auto col = t->view().select(1, 2);
    REQUIRE(col.ok());
    auto v = eigen::as_vector(*col);
    REQUIRE(v.ok());
    CHECK(v->size() == 3);
    CHECK((*v)(2) == 10.0f);
  }

  TEST_CASE("Eigen objects become tensor views and owned tensors") {
    Eigen::MatrixXf cm(2, 3);  // column-major
    cm << 1, 2, 3, 4, 5, 6;
    auto v = eigen::view_of(cm);
    CHECK(v.shape() == shape_t{2, 3});
    CHECK(v(1, 2) == 6.0f);
    CHECK_FALSE(v.is_contiguous());  // column-major is not row-major
    auto t = eigen::to_tensor(cm * 2.0f);
    REQUIRE(t.ok());
    CHECK((*t)(1, 0) == 8.0f);
    CHECK(t->view().is_contiguous());
    // A round trip through a matrix product matches Eigen itself.
    auto back = eigen::as_matrix(t->view());
    REQUIRE(back.ok());
    Eigen::MatrixXf p = back->transpose() * cm;
    Eigen::MatrixXf want = (cm * 2.0f).transpose() * cm;
    CHECK(p.isApprox(want));
  }

  TEST_CASE("views Eigen cannot express are refused") {
    auto t = Tensor<float>::empty({2, 1});
    REQUIRE(t.ok());
    auto b = t->view().broadcast_to({2, 5});
    REQUIRE(b.ok());
    CHECK_FALSE(eigen::as_matrix(*b).ok());
    auto t3 = Tensor<float>::empty({2, 2, 2});
    REQUIRE(t3.ok());
    CHECK(eigen::as_matrix(t3->view()).err().code == errc::invalid_argument);
  }
}
