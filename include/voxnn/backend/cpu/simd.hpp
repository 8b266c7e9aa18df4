#pragma once
// The SIMD packet the CPU kernels compute with: Eigen's widest packet of T for the target (AVX-512:
// 16 floats or 8 doubles) and its lane count, used with Eigen::internal's ploadu / pmadd / pstoreu.
#include <Eigen/Core>

namespace voxnn::backend::cpu {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
inline constexpr int kLanes = Eigen::internal::unpacket_traits<Packet<T>>::size;

}  // namespace voxnn::backend::cpu
