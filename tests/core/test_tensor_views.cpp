// Tensor views follow PyTorch: reshape/view/permute/transpose/narrow/slice/select/expand/squeeze share
// storage and see writes through the base; contiguous() and clone() copy. Expected values are closed
// forms over arange, whose element at flat index i is i.
#include <catch2/catch.hpp>

#include <voxnn/core/factory.hpp>
#include <voxnn/core/tensor.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using Catch::Contains;

namespace {
Tensor<double> grid(const Shape& shape) { return arange<double>(static_cast<double>(shape.numel())).reshape(shape); }
std::vector<double> values(const Tensor<double>& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("reshape and view", "[core][views]") {
  const auto x = grid({2, 3, 4});

  SECTION("reshape of a contiguous tensor is a view; -1 is inferred") {
    const auto y = x.reshape({4, -1});
    CHECK(y.shape() == Shape{4, 6});
    CHECK(y.shares_storage_with(x));
    CHECK(y.is_contiguous());
    CHECK(y.at({3, 5}) == 23.0);
    CHECK(x.reshape({24}).shape() == Shape{24});
    CHECK(x.reshape({-1}).shape() == Shape{24});
    CHECK(x.view({2, 12}).at({1, 0}) == 12.0);
  }
  SECTION("reshape of a transposed tensor copies in logical order") {
    const auto t = x.transpose(0, 2);  // [4, 3, 2]
    const auto y = t.reshape({-1});
    CHECK_FALSE(y.shares_storage_with(x));
    CHECK(y.at({0}) == 0.0);
    CHECK(y.at({1}) == 12.0);  // t[0, 0, 1] = x[1, 0, 0]
    CHECK(y.at({2}) == 4.0);   // t[0, 1, 0] = x[0, 1, 0]
  }
  SECTION("view fails where the strides need a copy, and says to use reshape") {
    const auto t = x.transpose(1, 2);
    REQUIRE_THROWS_WITH(t.view({24}), Contains("view") && Contains("[2, 4, 3]") && Contains("reshape"));
    // Merging only the dims that stay mutually contiguous is fine, as in PyTorch.
    CHECK(t.view({2, 4, 3, 1}).shape() == Shape{2, 4, 3, 1});
    CHECK(x.narrow(0, 1, 1).view({12}).at({0}) == 12.0);
    REQUIRE_THROWS_WITH(x.narrow(2, 0, 2).view({12}), Contains("view"));
    CHECK(x.narrow(2, 0, 2).view({6, 2}).at({5, 1}) == 21.0);
  }
  SECTION("views of expanded tensors keep stride 0 where the split allows") {
    const auto e = from_vector<double>({1, 2, 3}).reshape({3, 1}).expand({3, 4});
    const auto v = e.view({3, 2, 2});
    CHECK(v.strides() == Shape{1, 0, 0});
    CHECK(v.at({2, 1, 1}) == 3.0);
    REQUIRE_THROWS_WITH(e.view({12}), Contains("view"));
    CHECK(values(e.reshape({12})) == std::vector<double>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  }
  SECTION("bad shapes name the op and the shapes") {
    REQUIRE_THROWS_WITH(x.reshape({5, 5}), Contains("reshape") && Contains("[5, 5]") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(x.view({-1, -1}), Contains("view") && Contains("more than one -1"));
    REQUIRE_THROWS_WITH(x.reshape({5, -1}), Contains("reshape") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(x.view({-2, 12}), Contains("negative extent"));
  }
  SECTION("flatten") {
    CHECK(x.flatten().shape() == Shape{24});
    CHECK(x.flatten(1).shape() == Shape{2, 12});
    CHECK(x.flatten(0, 1).shape() == Shape{6, 4});
    CHECK(x.flatten(-2, -1).shape() == Shape{2, 12});
    CHECK(scalar_tensor(3.0).flatten().shape() == Shape{1});
    REQUIRE_THROWS_WITH(x.flatten(2, 1), Contains("flatten"));
  }
  SECTION("zero-size and zero-dim tensors") {
    const auto e = zeros<double>({0, 3});
    CHECK(e.reshape({3, 0}).shape() == Shape{3, 0});
    CHECK(e.view({0}).numel() == 0);
    const auto s = scalar_tensor(2.5);
    CHECK(s.dim() == 0);
    CHECK(s.reshape({1, 1}).at({0, 0}) == 2.5);
    CHECK(s.item() == 2.5);
    REQUIRE_THROWS_WITH(x.item(), Contains("item") && Contains("24 elements"));
  }
}

TEST_CASE("permute, transpose, narrow, slice, select", "[core][views]") {
  const auto x = grid({2, 3, 4});

  SECTION("permute reorders shape and strides") {
    const auto p = x.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Shape{1, 12, 4});
    CHECK(p.shares_storage_with(x));
    CHECK_FALSE(p.is_contiguous());
    CHECK(p.at({3, 1, 2}) == x.at({1, 2, 3}));
    CHECK(x.permute({-1, -3, -2}).shape() == Shape{4, 2, 3});
    REQUIRE_THROWS_WITH(x.permute({0, 0, 1}), Contains("permute") && Contains("repeated"));
    REQUIRE_THROWS_WITH(x.permute({0, 1}), Contains("permute") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(x.permute({0, 1, 3}), Contains("permute") && Contains("out of range"));
  }
  SECTION("transpose and t") {
    const auto t = x.transpose(-1, 0);
    CHECK(t.shape() == Shape{4, 3, 2});
    CHECK(t.at({3, 2, 1}) == 23.0);
    const auto m = grid({2, 3});
    CHECK(m.t().shape() == Shape{3, 2});
    CHECK(m.t().at({2, 0}) == 2.0);
    CHECK(grid({5}).t().shape() == Shape{5});
    REQUIRE_THROWS_WITH(x.t(), Contains("t:") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(x.transpose(0, 3), Contains("transpose") && Contains("dim 3"));
  }
  SECTION("narrow shares storage and writes go through") {
    auto base = grid({4, 5});
    auto n = base.narrow(1, 1, 3);
    CHECK(n.shape() == Shape{4, 3});
    CHECK(n.at({2, 0}) == 11.0);
    CHECK(base.narrow(0, -2, 2).at({0, 0}) == 10.0);  // a negative start counts from the end
    n.fill_(-1.0);
    CHECK(base.at({0, 0}) == 0.0);
    CHECK(base.at({0, 1}) == -1.0);
    CHECK(base.at({3, 3}) == -1.0);
    CHECK(base.at({3, 4}) == 19.0);
    REQUIRE_THROWS_WITH(base.narrow(1, 3, 3), Contains("narrow") && Contains("[4, 5]"));
  }
  SECTION("slice follows Python slicing") {
    const auto v = grid({10});
    CHECK(values(v.slice(0, 1, 8, 3)) == std::vector<double>{1, 4, 7});
    CHECK(values(v.slice(0, -3, 100)) == std::vector<double>{7, 8, 9});
    CHECK(values(v.slice(0, 8, 2)).empty());
    CHECK(values(v.slice(0, -100, 2)) == std::vector<double>{0, 1});
    const auto s = x.slice(-1, 0, 4, 2);
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(s.strides() == Shape{12, 4, 2});
    CHECK(s.at({1, 2, 1}) == 22.0);
    REQUIRE_THROWS_WITH(v.slice(0, 0, 5, 0), Contains("slice") && Contains("step"));
  }
  SECTION("select drops a dim") {
    const auto s = x.select(1, -1);
    CHECK(s.shape() == Shape{2, 4});
    CHECK(s.at({1, 3}) == 23.0);
    CHECK(x.select(0, 1).select(0, 1).at({0}) == 16.0);
    REQUIRE_THROWS_WITH(x.select(2, 4), Contains("select") && Contains("index 4") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(x.at({0, 0, 4}), Contains("at") && Contains("[2, 3, 4]"));
  }
}

TEST_CASE("expand, squeeze, unsqueeze", "[core][views]") {
  SECTION("expand repeats size-1 and new leading dims with stride 0") {
    const auto c = from_vector<double>({1, 2, 3}).reshape({3, 1});
    const auto e = c.expand({2, 3, 4});
    CHECK(e.shape() == Shape{2, 3, 4});
    CHECK(e.strides() == Shape{0, 1, 0});
    CHECK(e.at({1, 2, 3}) == 3.0);
    CHECK(e.shares_storage_with(c));
    CHECK(c.expand({-1, 5}).shape() == Shape{3, 5});
    REQUIRE_THROWS_WITH(c.expand({4, 4}), Contains("expand") && Contains("[3, 1]") && Contains("[4, 4]"));
    REQUIRE_THROWS_WITH(c.expand({4}), Contains("expand") && Contains("fewer dims"));
    REQUIRE_THROWS_WITH(c.expand({-1, 3, 1}), Contains("expand") && Contains("-1"));
  }
  SECTION("squeeze and unsqueeze") {
    const auto x = grid({1, 3, 1, 2});
    CHECK(x.squeeze().shape() == Shape{3, 2});
    CHECK(x.squeeze(0).shape() == Shape{3, 1, 2});
    CHECK(x.squeeze(-2).shape() == Shape{1, 3, 2});
    CHECK(x.squeeze(1).shape() == Shape{1, 3, 1, 2});  // not size 1: unchanged
    const auto y = grid({3, 2});
    CHECK(y.unsqueeze(0).shape() == Shape{1, 3, 2});
    CHECK(y.unsqueeze(1).shape() == Shape{3, 1, 2});
    CHECK(y.unsqueeze(-1).shape() == Shape{3, 2, 1});
    CHECK(y.unsqueeze(2).strides() == Shape{2, 1, 1});
    CHECK(y.unsqueeze(1).is_contiguous());
    CHECK(y.t().unsqueeze(0).at({0, 1, 2}) == 5.0);
    REQUIRE_THROWS_WITH(y.unsqueeze(3), Contains("unsqueeze") && Contains("out of range"));
  }
}

TEST_CASE("contiguous, clone and copy_", "[core][views]") {
  const auto x = grid({3, 4});
  SECTION("contiguous copies only when needed") {
    CHECK(x.contiguous().shares_storage_with(x));
    const auto t = x.t();
    REQUIRE_FALSE(t.is_contiguous());
    const auto c = t.contiguous();
    CHECK_FALSE(c.shares_storage_with(x));
    CHECK(c.is_contiguous());
    CHECK(c.strides() == Shape{3, 1});
    CHECK(values(c) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
    CHECK(x.narrow(0, 1, 1).is_contiguous());      // a single row
    CHECK_FALSE(x.narrow(1, 1, 2).is_contiguous());  // a column block
    CHECK(grid({3, 1}).expand({3, 1}).is_contiguous());
  }
  SECTION("a clone is independent of its source") {
    auto c = x.clone();
    c.fill_(7.0);
    CHECK(x.at({1, 1}) == 5.0);
    const auto d = x.t().clone();
    x.at({0, 1}) = -3.0;
    CHECK(d.at({1, 0}) == 1.0);
    x.at({0, 1}) = 1.0;
  }
  SECTION("copy_ broadcasts the source and writes through views") {
    auto dst = zeros<double>({3, 4});
    dst.t().copy_(from_vector<double>({1, 2, 3}));  // each row of the transposed view gets [1, 2, 3]
    CHECK(values(dst.select(1, 2)) == std::vector<double>{1, 2, 3});
    dst.narrow(1, 0, 2).copy_(scalar_tensor(9.0));
    CHECK(dst.at({2, 1}) == 9.0);
    CHECK(dst.at({2, 2}) == 3.0);
    REQUIRE_THROWS_WITH(dst.copy_(zeros<double>({3})), Contains("copy_") && Contains("[3]") && Contains("[3, 4]"));
    REQUIRE_THROWS_WITH(dst.narrow(0, 0, 1).copy_(zeros<double>({2, 4})), Contains("copy_") && Contains("[2, 4]"));
  }
  SECTION("element access and printing") {
    CHECK(x.size(-1) == 4);
    CHECK(x.stride(0) == 4);
    CHECK(x.numel() == 12);
    REQUIRE_THROWS_WITH(x.size(2), Contains("size") && Contains("dim 2"));
    std::ostringstream os;
    os << x.narrow(0, 0, 1);
    CHECK(os.str() == "Tensor[1, 4] {0, 1, 2, 3}");
    REQUIRE_THROWS_WITH(Tensor<float>(Shape{2, -1}), Contains("negative extent"));
  }
}
