#pragma once
// Adversarial losses for GAN training:
//   gan_bce_loss(logits, real)        binary cross-entropy with logits against all ones (real) or all
//                                     zeros (fake): the original GAN / pix2pix loss
//   lsgan_loss(pred, real)            mean squared error to 1 (real) or 0 (fake): LSGAN, CycleGAN
//   wgan_critic_loss(real, fake)      mean(fake) - mean(real): the critic's Wasserstein loss
//   wgan_generator_loss(fake)         -mean(fake)
//   gradient_penalty(critic, real, fake, gen, lambda)
//                                     WGAN-GP (Gulrajani et al. 2017): x = eps real + (1 - eps) fake with
//                                     eps ~ U(0, 1) per sample, g = d sum(critic(x)) / dx, and
//                                     lambda * mean_n (||g_n||_2 - 1)^2 with the norm over all of a
//                                     sample's elements. g is taken with create_graph, so the penalty
//                                     differentiates to the critic's parameters (double backward).
// Each returns a 0-dim Var to call backward() on.
//
// RED-WGAN's training script (Deep-Imaging-Group/RED-WGAN@79718eb model5.py) adds
// 10 * penalty to mean(fake) - mean(real), but takes the norm with gradients.norm(2, dim=1), i.e.
// over the single channel of its 5-D patches (|g| per voxel) rather than per sample; the per-sample
// norm here is the published WGAN-GP.
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/losses/classification.hpp"
#include "voxnn/losses/reduction.hpp"

namespace voxnn::losses {

template <Real T, Device D>
Var<T, D> gan_bce_loss(const Var<T, D>& logits, bool target_is_real) {
  VOXNN_CHECK(logits.defined() && logits.numel() > 0, "gan_bce_loss: logits must be defined and non-empty");
  const Var<T, D> target(full<T, D>(logits.shape(), target_is_real ? T(1) : T(0)));
  return binary_cross_entropy_with_logits(logits, target);
}

template <Real T, Device D>
Var<T, D> lsgan_loss(const Var<T, D>& pred, bool target_is_real) {
  VOXNN_CHECK(pred.defined() && pred.numel() > 0, "lsgan_loss: prediction must be defined and non-empty");
  const Var<T, D> d = target_is_real ? add(pred, T(-1)) : pred;
  return mean(mul(d, d));
}

template <Real T, Device D>
Var<T, D> wgan_critic_loss(const Var<T, D>& real_scores, const std::type_identity_t<Var<T, D>>& fake_scores) {
  VOXNN_CHECK(real_scores.defined() && fake_scores.defined() && real_scores.numel() > 0 && fake_scores.numel() > 0,
              "wgan_critic_loss: real and fake scores must be defined and non-empty");
  return sub(mean(fake_scores), mean(real_scores));
}

template <Real T, Device D>
Var<T, D> wgan_generator_loss(const Var<T, D>& fake_scores) {
  VOXNN_CHECK(fake_scores.defined() && fake_scores.numel() > 0,
              "wgan_generator_loss: fake scores must be defined and non-empty");
  return neg(mean(fake_scores));
}

// The penalty for given interpolation weights eps (N values, any shape with N elements: [N] or
// [N, 1, 1, ...]). real and fake (N, ...) enter as values: no gradient flows to them (fake is
// usually the generator's output, detached for the critic's step as in the reference).
template <class Critic, Real T, Device D>
Var<T, D> gradient_penalty(Critic&& critic, const Var<T, D>& real, const std::type_identity_t<Var<T, D>>& fake,
                           const Tensor<T, D>& eps, double lambda = 10.0) {
  VOXNN_CHECK(real.defined() && fake.defined() && real.shape() == fake.shape() && real.dim() >= 1 && real.size(0) > 0,
              "gradient_penalty: real ", real.defined() ? real.shape() : Shape{}, " and fake ",
              fake.defined() ? fake.shape() : Shape{}, " must have the same shape (N, ...) with N > 0");
  const int64_t n = real.size(0);
  VOXNN_CHECK(eps.defined() && eps.numel() == n, "gradient_penalty: eps of shape ", eps.defined() ? eps.shape() : Shape{},
              " must hold one weight per sample (", n, ")");
  Shape per_sample(std::vector<int64_t>(static_cast<std::size_t>(real.dim()), 1));
  per_sample[0] = n;
  const Var<T, D> e(eps.contiguous().reshape(per_sample));
  const Var<T, D> r(real.value()), f(fake.value());
  // eps real + (1 - eps) fake as a leaf: the penalty differentiates through the critic only
  const Var<T, D> x(add(mul(e, r), mul(rsub(e, T(1)), f)).value(), true);

  EnableGradGuard with_grad;
  const Var<T, D> scores = critic(x);
  const Var<T, D> g = grad<T, D>({sum(scores)}, {x}, {}, true, true)[0];
  const Var<T, D> norms = norm(reshape(g, Shape{n, g.numel() / n}), 2.0, {1});
  const Var<T, D> d = add(norms, T(-1));
  return mul(mean(mul(d, d)), static_cast<T>(lambda));
}

// The penalty with eps ~ U(0, 1), one per sample, drawn from gen.
template <class Critic, Real T, Device D>
Var<T, D> gradient_penalty(Critic&& critic, const Var<T, D>& real, const std::type_identity_t<Var<T, D>>& fake,
                           Generator& gen, double lambda = 10.0) {
  static_assert(std::is_same_v<D, Cpu>, "gradient_penalty: draws eps on the CPU; pass eps for another device");
  VOXNN_CHECK(real.defined() && real.dim() >= 1, "gradient_penalty: real must be defined with a batch dim");
  return gradient_penalty(std::forward<Critic>(critic), real, fake, rand<T>(Shape{real.size(0)}, gen), lambda);
}

}  // namespace voxnn::losses
