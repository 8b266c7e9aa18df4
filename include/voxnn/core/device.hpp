#pragma once
// Compile-time device tags and the element-type concepts every public template is constrained by.
#include <concepts>
#include <cstdint>

namespace voxnn {

struct Cpu {
  static constexpr const char* name = "cpu";
};
struct Cuda {
  static constexpr const char* name = "cuda";
};

template <class D>
concept Device = std::same_as<D, Cpu> || std::same_as<D, Cuda>;

// Types a tensor can hold: floating values, integer indices, boolean masks.
template <class T>
concept Element = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, int64_t> ||
                  std::same_as<T, int32_t> || std::same_as<T, uint8_t> || std::same_as<T, bool>;

// An element type's name in messages: "float", "double", "int64", "int32", "uint8", "bool".
template <Element T>
constexpr const char* element_name() {
  if constexpr (std::same_as<T, float>) return "float";
  else if constexpr (std::same_as<T, double>) return "double";
  else if constexpr (std::same_as<T, int64_t>) return "int64";
  else if constexpr (std::same_as<T, int32_t>) return "int32";
  else if constexpr (std::same_as<T, uint8_t>) return "uint8";
  else return "bool";
}

// Types that math (and autograd) is defined for.
template <class T>
concept Real = std::same_as<T, float> || std::same_as<T, double>;

// Called first by functions whose kernels exist on the CPU only: instantiating one for another device
// fails to compile (the instantiation trace names the function).
template <class D>
constexpr void require_cpu() {
  static_assert(std::same_as<D, Cpu>, "this function is implemented on the CPU only for now");
}

}  // namespace voxnn
