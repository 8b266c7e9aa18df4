// Factories against closed forms; the Philox generator's reproducibility (same seed, any thread
// count) and distributions within statistical bounds; the caching host allocator's reuse.
#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <set>

#include <voxnn/core/allocator.hpp>
#include <voxnn/core/factory.hpp>
#include <voxnn/core/parallel.hpp>
#include <voxnn/core/random.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using Catch::Contains;

namespace {
// Restores the OpenMP thread count when a test changes it.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

template <class T>
std::pair<double, double> mean_and_std(const Tensor<T>& t) {
  double s = 0, s2 = 0;
  for (T v : t.to_vector()) s += v, s2 += double(v) * v;
  const double n = static_cast<double>(t.numel()), mean = s / n;
  return {mean, std::sqrt((s2 - n * mean * mean) / (n - 1))};
}
}  // namespace

TEMPLATE_TEST_CASE("factories", "[core][factory]", float, double) {
  using T = TestType;
  SECTION("zeros, ones, full and the *_like forms") {
    CHECK(zeros<T>({2, 3}).to_vector() == std::vector<T>(6, T(0)));
    CHECK(ones<T>({4}).to_vector() == std::vector<T>(4, T(1)));
    const auto f = full<T>({2, 2, 2}, T(2.5));
    CHECK(f.shape() == Shape{2, 2, 2});
    CHECK(f.to_vector() == std::vector<T>(8, T(2.5)));
    CHECK(ones_like(f).to_vector() == std::vector<T>(8, T(1)));
    CHECK(zeros_like(f).shape() == f.shape());
    CHECK(empty_like(f).shape() == f.shape());
    CHECK(full<T>({}, T(3)).item() == T(3));
    CHECK(zeros<T>({0, 5}).numel() == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(zeros<T>({17}).data()) % HostAllocator::kAlignment == 0);
  }
  SECTION("from_vector and scalar_tensor") {
    const auto t = from_vector<T>({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(t.at({1, 0}) == T(4));
    CHECK(from_vector<T>({7}).dim() == 0);
    CHECK(scalar_tensor(T(4)).item() == T(4));
    REQUIRE_THROWS_WITH(from_vector<T>({1, 2, 3}, {2, 2}), Contains("from_vector") && Contains("[2, 2]"));
  }
  SECTION("arange as torch.arange") {
    CHECK(arange<T>(5).to_vector() == std::vector<T>{0, 1, 2, 3, 4});
    CHECK(arange<T>(1, 2, 0.25).to_vector() == std::vector<T>{1, 1.25, 1.5, 1.75});
    CHECK(arange<T>(5, 0, -2).to_vector() == std::vector<T>{5, 3, 1});
    CHECK(arange<T>(0, 1, 0.1).numel() == 10);
    CHECK(arange<T>(0, 1, 0.3).numel() == 4);
    CHECK(arange<T>(3, 3).numel() == 0);
    CHECK(arange<int64_t>(4).to_vector() == std::vector<int64_t>{0, 1, 2, 3});
    REQUIRE_THROWS_WITH(arange<T>(0, 1, 0), Contains("arange") && Contains("nonzero"));
    REQUIRE_THROWS_WITH(arange<T>(0, 5, -1), Contains("arange") && Contains("not reachable"));
  }
  SECTION("linspace as torch.linspace") {
    CHECK(linspace<T>(0, 1, 5).to_vector() == std::vector<T>{0, 0.25, 0.5, 0.75, 1});
    CHECK(linspace<T>(-1, 1, 3).to_vector() == std::vector<T>{-1, 0, 1});
    CHECK(linspace<T>(2, 3, 1).to_vector() == std::vector<T>{2});
    CHECK(linspace<T>(0, 1, 0).numel() == 0);
    const auto l = linspace<T>(0.1, 0.7, 7).to_vector();
    CHECK(l.front() == T(0.1));
    CHECK(l.back() == T(0.7));  // exact at both ends
    for (int i = 0; i < 7; ++i) CHECK(l[i] == Approx(0.1 + 0.1 * i).epsilon(1e-6));
    REQUIRE_THROWS_WITH(linspace<T>(0, 1, -1), Contains("linspace"));
  }
}

TEMPLATE_TEST_CASE("random draws are reproducible and well distributed", "[core][random]", float, double) {
  using T = TestType;
  SECTION("the same seed gives the same values; another seed does not") {
    Generator a(42), b(42), c(43);
    const auto x = rand<T>({1000}, a), y = rand<T>({1000}, b), z = rand<T>({1000}, c);
    CHECK(x.to_vector() == y.to_vector());
    CHECK(x.to_vector() != z.to_vector());
    // a generator advances: the next draw differs from the first
    CHECK(rand<T>({1000}, a).to_vector() != x.to_vector());
    Generator d(9), e(9);
    CHECK(randn<T>({33}, d).to_vector() == randn<T>({33}, e).to_vector());
  }
  SECTION("values do not depend on the number of threads") {
    ThreadCountGuard guard;
    const Shape big{1 << 18};
    set_num_threads(1);
    Generator g1(7);
    const auto u1 = rand<T>(big, g1), n1 = randn<T>(big, g1);
    const auto i1 = randint<int64_t>(-5, 5, big, g1);
    set_num_threads(2);
    Generator g2(7);
    const auto u2 = rand<T>(big, g2), n2 = randn<T>(big, g2);
    const auto i2 = randint<int64_t>(-5, 5, big, g2);
    set_num_threads(4);
    Generator g4(7);
    const auto u4 = rand<T>(big, g4);
    CHECK(u1.to_vector() == u2.to_vector());
    CHECK(u1.to_vector() == u4.to_vector());
    CHECK(n1.to_vector() == n2.to_vector());
    CHECK(i1.to_vector() == i2.to_vector());
  }
  SECTION("manual_seed resets the default generator") {
    manual_seed(123);
    const auto a = randn<T>({64});
    manual_seed(123);
    CHECK(randn<T>({64}).to_vector() == a.to_vector());
  }
  SECTION("randn has mean 0 and std 1 within statistical bounds") {
    Generator g(2024);
    const int64_t n = 1 << 18;
    const auto [mean, sd] = mean_and_std(randn<T>({n}, g));
    // standard errors: 1/sqrt(n) = 0.002 for the mean, about 1/sqrt(2n) = 0.0014 for the std
    CHECK(std::abs(mean) < 5.0 / std::sqrt(double(n)));
    CHECK(std::abs(sd - 1.0) < 5.0 / std::sqrt(2.0 * n));
    const auto [m2, sd2] = mean_and_std(randn<T>({n}, g, T(3), T(0.5)));
    CHECK(std::abs(m2 - 3.0) < 2.5 / std::sqrt(double(n)));
    CHECK(std::abs(sd2 - 0.5) < 2.5 / std::sqrt(2.0 * n));
    // tails: about 0.27% beyond 3 sigma
    int64_t beyond = 0;
    for (T v : randn<T>({n}, g).to_vector()) beyond += std::abs(v) > 3;
    CHECK(std::abs(double(beyond) / n - 0.0027) < 0.0006);
  }
  SECTION("rand stays in [low, high) and is uniform") {
    Generator g(5);
    const int64_t n = 1 << 18;
    const auto u = rand<T>({n}, g, T(-2), T(3));
    const auto v = u.to_vector();
    CHECK(*std::min_element(v.begin(), v.end()) >= T(-2));
    CHECK(*std::max_element(v.begin(), v.end()) < T(3));
    const auto [mean, sd] = mean_and_std(u);
    CHECK(std::abs(mean - 0.5) < 5 * 5 / std::sqrt(12.0 * n));
    CHECK(std::abs(sd - 5 / std::sqrt(12.0)) < 0.01);
    // every tenth of the range gets its share
    std::vector<int64_t> bins(10);
    for (T x : v) ++bins[std::min<std::size_t>(9, static_cast<std::size_t>((x + 2) / 5 * 10))];
    for (int64_t b : bins) CHECK(std::abs(double(b) / n - 0.1) < 0.005);
  }
  SECTION("randint covers [low, high) and nothing else") {
    Generator g(11);
    const auto r = randint(-3, 4, {5000}, g).to_vector();
    const std::set<int64_t> seen(r.begin(), r.end());
    CHECK(seen == std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3});
    CHECK(randint<int32_t>(0, 2, {10}, g).to_vector().size() == 10);
    REQUIRE_THROWS_WITH(randint(3, 3, {2}, g), Contains("randint") && Contains("empty range"));
  }
}

TEST_CASE("RandomStream: scalar draws in the tensor factories' order", "[core][random]") {
  SECTION("dense: runs of one kind equal rand, randint and randn, and reserve as many blocks") {
    Generator g(7), ref(7);
    RandomStream rs(g);
    const auto u = rand<double>(Shape{5}, ref);
    for (int i = 0; i < 5; ++i) CHECK(rs.uniform() == u.data()[i]);
    const auto k = randint<int64_t>(0, 13, Shape{4}, ref);
    RandomStream rk(g);  // a fresh stream: rs still holds half a block
    for (int i = 0; i < 4; ++i) CHECK(rk.integer(13) == k.data()[i]);
    const auto z = randn<double>(Shape{3}, ref);
    RandomStream rn(g);
    for (int i = 0; i < 3; ++i) CHECK(rn.normal() == z.data()[i]);
    CHECK(rand<double>(Shape{1}, g).item() == rand<double>(Shape{1}, ref).item());
    // a scaled uniform and a normal after an odd uniform (a fresh block)
    Generator a(3), b(3);
    RandomStream ra(a);
    const double first = ra.uniform(2.0, 6.0);
    const auto w = b.block(b.reserve(1));
    CHECK(first == 2.0 + 4.0 * voxnn::detail::uniform_from<double>(w[0], w[1]));
    CHECK(ra.normal() == voxnn::detail::normal_pair<double>(b.block(b.reserve(1)))[0]);
  }
  SECTION("block_per_draw: every draw is the first of its own block") {
    Generator g(11), ref(11);
    RandomStream rs(g, RandomStream::Packing::block_per_draw);
    CHECK(rs.uniform() == rand<double>(Shape{1}, ref).item());
    CHECK(rs.integer(9) == randint<int64_t>(0, 9, Shape{1}, ref).item());
    CHECK(rs.bernoulli(0.0) == false);  // a draw whatever p is
    CHECK(rs.bernoulli(1.0) == true);
    ref.reserve(2);
    CHECK(rs.normal() == randn<double>(Shape{1}, ref).item());
    CHECK(rs.normal() == randn<double>(Shape{1}, ref).item());  // no spare kept
    // stateless between draws: a temporary per draw gives the same sequence
    Generator h(11), h_ref(11);
    CHECK(RandomStream(h, RandomStream::Packing::block_per_draw).uniform() == rand<double>(Shape{1}, h_ref).item());
    CHECK(RandomStream(h, RandomStream::Packing::block_per_draw).integer(4) ==
          randint<int64_t>(0, 4, Shape{1}, h_ref).item());
  }
  SECTION("well distributed, and an empty range is an error") {
    Generator g(5);
    RandomStream rs(g);
    double s = 0;
    std::set<int64_t> seen;
    for (int i = 0; i < 20000; ++i) {
      const double u = rs.uniform();
      REQUIRE((u >= 0 && u < 1));
      s += u;
      seen.insert(rs.integer(6));
    }
    CHECK(std::abs(s / 20000 - 0.5) < 0.01);
    CHECK(seen == std::set<int64_t>{0, 1, 2, 3, 4, 5});
    REQUIRE_THROWS_WITH(rs.integer(0), Contains("RandomStream::integer") && Contains("empty range"));
  }
  SECTION("optional seeds: generator_from and SeedOrGenerator") {
    CHECK(generator_from(42).seed() == 42);
    CHECK(seed_from(9) == 9);
    manual_seed(3);
    const uint64_t drawn = generator_from(std::nullopt).seed();
    manual_seed(3);
    Generator probe(3);
    CHECK(drawn == draw_seed(probe));                   // one block of the default generator
    CHECK(seed_from(std::nullopt) == drawn);            // the same draw after the same manual_seed
    CHECK(draw_seed() != drawn);                        // and it advanced the default generator
    Generator fallback(1);
    SeedOrGenerator with(5, fallback), without(std::nullopt, fallback);
    CHECK(&without.get() == &fallback);
    CHECK(with.get().seed() == 5);
    CHECK(&SeedOrGenerator(std::nullopt).get() == &default_generator());
  }
}

TEST_CASE("caching host allocator", "[core][allocator]") {
  auto& alloc = HostAllocator::instance();
  SECTION("a freed block is handed out again") {
    const std::size_t bytes = 3 * 4096 + 136;  // a size class no other test is likely to hold
    void* p = alloc.allocate(bytes);
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % HostAllocator::kAlignment == 0);
    alloc.deallocate(p, bytes);
    CHECK(alloc.cached_bytes() >= HostAllocator::size_class(bytes));
    void* q = alloc.allocate(bytes);
    CHECK(q == p);
    alloc.deallocate(q, bytes);
  }
  SECTION("tensors of the same size reuse their storage") {
    const float* first;
    {
      Tensor<float> t({123, 457});
      first = t.data();
    }
    Tensor<float> again({123, 457});
    CHECK(again.data() == first);
    // a view keeps the storage alive: a new tensor cannot get it
    const Tensor<float> view = again.narrow(0, 0, 1);
    again = Tensor<float>();
    Tensor<float> other({123, 457});
    CHECK(other.data() != first);
    CHECK(view.data() == first);
  }
  SECTION("size classes round up by less than a quarter and share nearly equal sizes") {
    for (std::size_t bytes : {1ul, 63ul, 64ul, 65ul, 4096ul, 4097ul, 10000ul, 1ul << 20, (1ul << 20) + 1, 123456789ul}) {
      const std::size_t c = HostAllocator::size_class(bytes);
      CHECK(c >= bytes);
      CHECK(c % HostAllocator::kAlignment == 0);
      if (bytes > 4096) CHECK(c - bytes < bytes / 4);
    }
    CHECK(HostAllocator::size_class(10000) == HostAllocator::size_class(10100));
  }
  SECTION("empty_cache releases every cached block") {
    void* p = alloc.allocate(5000);
    alloc.deallocate(p, 5000);
    CHECK(alloc.cached_bytes() > 0);
    alloc.empty_cache();
    CHECK(alloc.cached_bytes() == 0);
  }
}
