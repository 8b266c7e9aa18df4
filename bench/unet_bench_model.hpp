#pragma once
// The 3-D U-Net of the U-Net training-step benchmark (bench/bench_unet.cpp), an ordinary nn::Module.
// bench/compare_pytorch.py builds the same network in PyTorch (class UNet3d there): keep the two equal.
//
//   level   channels   resolution (64^3 input)
//   enc1    1 -> 16    64^3      two (Conv3d k3 p1 + BatchNorm3d + ReLU) per block
//   enc2   16 -> 32    32^3      max_pool3d k2 s2 before each deeper level
//   enc3   32 -> 64    16^3
//   bottom 64 -> 128    8^3
//   up3 ConvTranspose3d 128 -> 64 (k2 s2), cat with enc3 -> dec3 128 -> 64
//   up2 ConvTranspose3d  64 -> 32,         cat with enc2 -> dec2  64 -> 32
//   up1 ConvTranspose3d  32 -> 16,         cat with enc1 -> dec1  32 -> 16
//   head Conv3d 16 -> classes, kernel 1
// Convolutions keep PyTorch's default bias = true.
#include <string>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::bench {

template <Real T>
class UNetBlock : public nn::Module<T> {
 public:
  UNetBlock(nn::Module<T>* parent, std::string name, int64_t in, int64_t out)
      : nn::Module<T>(parent, std::move(name)),
        conv1(this, "conv1", {.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1}),
        bn1(this, "bn1", {.num_features = out}),
        conv2(this, "conv2", {.in_channels = out, .out_channels = out, .kernel_size = 3, .padding = 1}),
        bn2(this, "bn2", {.num_features = out}) {}

  Var<T> forward(const Var<T>& x) override {
    return relu(bn2.forward(conv2.forward(relu(bn1.forward(conv1.forward(x))))));
  }
  std::string type_name() const override { return "UNetBlock"; }

  nn::Conv3d<T> conv1;
  nn::BatchNorm3d<T> bn1;
  nn::Conv3d<T> conv2;
  nn::BatchNorm3d<T> bn2;
};

template <Real T>
class UNet3d : public nn::Module<T> {
 public:
  explicit UNet3d(int64_t in_channels = 1, int64_t classes = 2) : nn::Module<T>(nullptr, ""),
        enc1(this, "enc1", in_channels, 16),
        enc2(this, "enc2", 16, 32),
        enc3(this, "enc3", 32, 64),
        bottom(this, "bottom", 64, 128),
        up3(this, "up3", {.in_channels = 128, .out_channels = 64, .kernel_size = 2, .stride = 2}),
        dec3(this, "dec3", 128, 64),
        up2(this, "up2", {.in_channels = 64, .out_channels = 32, .kernel_size = 2, .stride = 2}),
        dec2(this, "dec2", 64, 32),
        up1(this, "up1", {.in_channels = 32, .out_channels = 16, .kernel_size = 2, .stride = 2}),
        dec1(this, "dec1", 32, 16),
        head(this, "head", {.in_channels = 16, .out_channels = classes, .kernel_size = 1}) {}

  Var<T> forward(const Var<T>& x) override {
    const Var<T> e1 = enc1.forward(x);
    const Var<T> e2 = enc2.forward(max_pool3d(e1, 2, 2));
    const Var<T> e3 = enc3.forward(max_pool3d(e2, 2, 2));
    const Var<T> b = bottom.forward(max_pool3d(e3, 2, 2));
    const Var<T> d3 = dec3.forward(cat<T, Cpu>({up3.forward(b), e3}, 1));
    const Var<T> d2 = dec2.forward(cat<T, Cpu>({up2.forward(d3), e2}, 1));
    const Var<T> d1 = dec1.forward(cat<T, Cpu>({up1.forward(d2), e1}, 1));
    return head.forward(d1);
  }
  std::string type_name() const override { return "UNet3d"; }

  UNetBlock<T> enc1, enc2, enc3, bottom;
  nn::ConvTranspose3d<T> up3;
  UNetBlock<T> dec3;
  nn::ConvTranspose3d<T> up2;
  UNetBlock<T> dec2;
  nn::ConvTranspose3d<T> up1;
  UNetBlock<T> dec1;
  nn::Conv3d<T> head;
};

}  // namespace voxnn::bench
