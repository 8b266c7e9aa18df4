#pragma once
// Tensor<T, D>: a value-semantics handle to shared storage with a dynamic shape and strides.
// Copying a Tensor copies the handle; views (reshape, permute, narrow, expand, ...) share the storage;
// contiguous() and clone() are the only member functions that copy elements.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <vector>

#include "voxnn/core/device.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/shape.hpp"
#include "voxnn/core/storage.hpp"
#include "voxnn/core/strided_loop.hpp"

namespace voxnn {

namespace detail {
// Strides for viewing (shape, strides) as new_shape without a copy, or nothing when that needs a copy.
// Walks the old dims from the inside out in chunks of mutually contiguous dims, as PyTorch's view does.
inline std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  Shape out = new_shape;
  if (shape.numel() == 0 || shape.empty()) return contiguous_strides(new_shape);
  int view_d = new_shape.size() - 1;
  int64_t chunk_stride = strides.back(), tensor_numel = 1, view_numel = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_stride = strides[d - 1];
        tensor_numel = view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}
}  // namespace detail

template <Element T, Device D = Cpu>
class Tensor {
 public:
  using value_type = T;
  using device_type = D;

  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(const Shape& shape)
      : storage_(checked_numel(shape)), shape_(shape), strides_(contiguous_strides(shape)) {}
  Tensor(Storage<T, D> storage, const Shape& shape, const Shape& strides, int64_t offset)
      : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset) {}

  bool defined() const { return storage_.defined(); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return shape_.size(); }
  int64_t size(int64_t d) const { return shape_[wrap_dim(d, dim(), "size")]; }
  int64_t stride(int64_t d) const { return strides_[wrap_dim(d, dim(), "stride")]; }
  int64_t numel() const { return shape_.numel(); }
  int64_t offset() const { return offset_; }
  const Storage<T, D>& storage() const { return storage_; }
  T* data() const { return storage_.data() + offset_; }
  bool shares_storage_with(const Tensor& o) const { return storage_.data() == o.storage_.data(); }

  bool is_contiguous() const {
    if (numel() == 0) return true;  // no element is out of place (torch agrees)
    int64_t expected = 1;
    for (int d = dim() - 1; d >= 0; --d) {
      if (shape_[d] == 1) continue;
      if (strides_[d] != expected) return false;
      expected *= shape_[d];
    }
    return true;
  }

  // ---- element access (CPU) -------------------------------------------------------------------
  T item() const {
    VOXNN_CHECK(numel() == 1, "item: tensor of shape ", shape_, " has ", numel(), " elements, not 1");
    return *data();
  }
  T& at(std::initializer_list<int64_t> index) const {
    VOXNN_CHECK(static_cast<int>(index.size()) == dim(), "at: ", index.size(), " indices for shape ", shape_);
    int64_t off = offset_;
    int d = 0;
    for (int64_t i : index) {
      VOXNN_CHECK(i >= -shape_[d] && i < shape_[d], "at: index ", i, " out of range for dim ", d,
                  " of shape ", shape_);
      off += (i < 0 ? i + shape_[d] : i) * strides_[d];
      ++d;
    }
    return storage_.data()[off];
  }
  std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    Tensor c = contiguous();
    std::copy(c.data(), c.data() + numel(), out.begin());
    return out;
  }

  // ---- copies ------------------------------------------------------------------------------------
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
  Tensor clone() const {
    Tensor out(shape_);
    out.copy_(*this);
    return out;
  }
  // Copies src (broadcast to this shape) into this tensor's elements.
  Tensor& copy_(const Tensor& src) {
    VOXNN_CHECK(broadcast_shapes(shape_, src.shape_, "copy_") == shape_, "copy_: source shape ", src.shape_,
                " does not broadcast to ", shape_);
    const Tensor s = src.expand(shape_);
    T* dst = data();
    const T* from = s.data();
    detail::for_each_run<2>(shape_, {strides_, s.strides_}, [&](const auto& off, int64_t n, const auto& st) {
      T* o = dst + off[0];
      const T* a = from + off[1];
      if (st[0] == 1 && st[1] == 1)
        std::copy(a, a + n, o);
      else
        for (int64_t i = 0; i < n; ++i) o[i * st[0]] = a[i * st[1]];
    });
    return *this;
  }
  Tensor& fill_(T value) {
    T* dst = data();
    detail::for_each_run<1>(shape_, {strides_}, [&](const auto& off, int64_t n, const auto& st) {
      T* o = dst + off[0];
      if (st[0] == 1)
        std::fill(o, o + n, value);
      else
        for (int64_t i = 0; i < n; ++i) o[i * st[0]] = value;
    });
    return *this;
  }
  Tensor& zero_() { return fill_(T(0)); }

  // ---- views ------------------------------------------------------------------------------------
  // view: a new shape over the same elements; fails when the strides do not allow it (use reshape).
  Tensor view(Shape new_shape) const {
    new_shape = infer_shape(new_shape, "view");
    auto st = detail::view_strides(shape_, strides_, new_shape);
    VOXNN_CHECK(st.has_value(), "view: shape ", new_shape, " is not compatible with the strides ", strides_,
                " of a tensor of shape ", shape_, "; use reshape");
    return {storage_, new_shape, *st, offset_};
  }
  // reshape: a view when possible, else a contiguous copy.
  Tensor reshape(Shape new_shape) const {
    new_shape = infer_shape(new_shape, "reshape");
    if (auto st = detail::view_strides(shape_, strides_, new_shape)) return {storage_, new_shape, *st, offset_};
    return clone().view(new_shape);
  }
  Tensor flatten(int64_t start = 0, int64_t end = -1) const {
    if (dim() == 0) return reshape({1});
    const int s = wrap_dim(start, dim(), "flatten"), e = wrap_dim(end, dim(), "flatten");
    VOXNN_CHECK(s <= e, "flatten: start dim ", start, " after end dim ", end, " for shape ", shape_);
    Shape out;
    for (int d = 0; d < s; ++d) out.push_back(shape_[d]);
    int64_t n = 1;
    for (int d = s; d <= e; ++d) n *= shape_[d];
    out.push_back(n);
    for (int d = e + 1; d < dim(); ++d) out.push_back(shape_[d]);
    return reshape(out);
  }
  Tensor permute(const std::vector<int64_t>& order) const {
    VOXNN_CHECK(static_cast<int>(order.size()) == dim(), "permute: ", order.size(), " dims given for shape ",
                shape_);
    Shape s, st;
    std::array<bool, kMaxRank> seen{};
    for (int64_t o : order) {
      const int d = wrap_dim(o, dim(), "permute");
      VOXNN_CHECK(!seen[d], "permute: dim ", d, " repeated for shape ", shape_);
      seen[d] = true;
      s.push_back(shape_[d]);
      st.push_back(strides_[d]);
    }
    return {storage_, s, st, offset_};
  }
  Tensor transpose(int64_t d0, int64_t d1) const {
    const int a = wrap_dim(d0, dim(), "transpose"), b = wrap_dim(d1, dim(), "transpose");
    Shape s = shape_, st = strides_;
    std::swap(s[a], s[b]);
    std::swap(st[a], st[b]);
    return {storage_, s, st, offset_};
  }
  Tensor t() const {
    VOXNN_CHECK(dim() <= 2, "t: expects a tensor of rank <= 2, got shape ", shape_);
    return dim() < 2 ? *this : transpose(0, 1);
  }
  Tensor narrow(int64_t d, int64_t start, int64_t length) const {
    const int a = wrap_dim(d, dim(), "narrow");
    if (start < 0) start += shape_[a];
    VOXNN_CHECK(start >= 0 && length >= 0 && start + length <= shape_[a], "narrow: range [", start, ", ",
                start + length, ") out of bounds for dim ", a, " of shape ", shape_);
    Shape s = shape_;
    s[a] = length;
    return {storage_, s, strides_, offset_ + start * strides_[a]};
  }
  // slice(dim, start, end, step): Python slicing semantics, out-of-range bounds are clamped.
  Tensor slice(int64_t d, int64_t start, int64_t end, int64_t step = 1) const {
    const int a = wrap_dim(d, dim(), "slice");
    VOXNN_CHECK(step > 0, "slice: step must be positive, got ", step);
    const int64_t n = shape_[a];
    auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
    start = clampi(start);
    end = std::max(clampi(end), start);
    Shape s = shape_, st = strides_;
    s[a] = (end - start + step - 1) / step;
    st[a] *= step;
    return {storage_, s, st, offset_ + start * strides_[a]};
  }
  Tensor select(int64_t d, int64_t index) const {
    const int a = wrap_dim(d, dim(), "select");
    VOXNN_CHECK(index >= -shape_[a] && index < shape_[a], "select: index ", index, " out of range for dim ", a,
                " of shape ", shape_);
    if (index < 0) index += shape_[a];
    Shape s = shape_, st = strides_;
    s.erase(a);
    st.erase(a);
    return {storage_, s, st, offset_ + index * strides_[a]};
  }
  // expand: size-1 dims (and new leading dims) repeat with stride 0; -1 keeps a dim's size.
  Tensor expand(const Shape& target) const {
    VOXNN_CHECK(target.size() >= dim(), "expand: target ", target, " has fewer dims than shape ", shape_);
    Shape s, st;
    const int lead = target.size() - dim();
    for (int i = 0; i < target.size(); ++i) {
      const int src = i - lead;
      int64_t want = target[i];
      if (src < 0) {
        VOXNN_CHECK(want >= 0, "expand: -1 not allowed for a new leading dim in ", target);
        s.push_back(want);
        st.push_back(0);
        continue;
      }
      if (want == -1) want = shape_[src];
      VOXNN_CHECK(shape_[src] == want || shape_[src] == 1, "expand: cannot expand shape ", shape_, " to ",
                  target);
      s.push_back(want);
      st.push_back(shape_[src] == want ? strides_[src] : 0);
    }
    return {storage_, s, st, offset_};
  }
  Tensor squeeze() const {
    Shape s, st;
    for (int d = 0; d < dim(); ++d)
      if (shape_[d] != 1) {
        s.push_back(shape_[d]);
        st.push_back(strides_[d]);
      }
    return {storage_, s, st, offset_};
  }
  Tensor squeeze(int64_t d) const {
    if (dim() == 0) return *this;
    const int a = wrap_dim(d, dim(), "squeeze");
    if (shape_[a] != 1) return *this;
    Shape s = shape_, st = strides_;
    s.erase(a);
    st.erase(a);
    return {storage_, s, st, offset_};
  }
  Tensor unsqueeze(int64_t d) const {
    const int a = wrap_dim(d, dim() + 1, "unsqueeze");
    Shape s = shape_, st = strides_;
    s.insert(a, 1);
    st.insert(a, a < dim() ? strides_[a] * shape_[a] : 1);
    return {storage_, s, st, offset_};
  }

 private:
  static int64_t checked_numel(const Shape& shape) {
    for (int64_t d : shape) VOXNN_CHECK(d >= 0, "Tensor: negative extent in shape ", shape);
    return shape.numel();
  }
  // Resolves one -1 extent from the element count.
  Shape infer_shape(Shape s, const char* op) const {
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < s.size(); ++d) {
      if (s[d] == -1) {
        VOXNN_CHECK(infer < 0, op, ": more than one -1 in shape ", s);
        infer = d;
      } else {
        VOXNN_CHECK(s[d] >= 0, op, ": negative extent in shape ", s);
        known *= s[d];
      }
    }
    if (infer >= 0) {
      VOXNN_CHECK(known > 0 && numel() % known == 0, op, ": shape ", s, " is invalid for input of shape ", shape_);
      s[infer] = numel() / known;
    }
    VOXNN_CHECK(s.numel() == numel(), op, ": shape ", s, " is invalid for input of shape ", shape_, " (",
                numel(), " elements)");
    return s;
  }

  Storage<T, D> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
};

template <class T, class D>
std::ostream& operator<<(std::ostream& os, const Tensor<T, D>& t) {
  os << "Tensor" << t.shape() << " {";
  if (t.defined()) {
    const auto v = t.to_vector();
    const std::size_t shown = std::min<std::size_t>(v.size(), 16);
    for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << +v[i];
    if (shown < v.size()) os << ", ...";
  }
  return os << '}';
}

}  // namespace voxnn
