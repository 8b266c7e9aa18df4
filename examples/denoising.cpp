// 3D MRI denoising in the RED-WGAN style (models::RedWganGenerator + models::RedWganCritic, WGAN-GP)
// on generated brain phantoms with Rician noise, against the noisy input and classical filters.
//
// What it shows: RED-WGAN's residual encoder-decoder generator (Ran et al. 2019), trained on CPU on
// the paper's 6x32x32 patches, first on MSE and then adversarially against a Wasserstein critic with
// gradient penalty (losses::gradient_penalty, a double backward through the critic), denoises whole
// held-out volumes: the generator is fully convolutional, so it runs on any size.
//
// Data (generated, fixed seeds): each volume is a random data::brain_phantom (skull, grey matter,
// white-matter ellipsoids, ventricles, 0-3 small lesions) with T1-like intensities drawn per volume
// (white matter 1, grey matter 0.55-0.70, CSF 0.10-0.25, skull 0.30-0.50, lesions 0.30-0.50),
// rendered at twice the resolution and averaged 2x2x2 (partial volume): the clean volume. The noisy
// one is its Rician corruption |x + n1 + i n2|, n1, n2 ~ N(0, sigma^2), sigma = 0.08 (8 % of white
// matter), as a magnitude MR image. Training volumes come from phantom seeds derived from --seed; the
// noise of training patches is drawn fresh for every patch. Held-out volumes come from seeds
// 1000000 + ... with one fixed noise realisation each. 192 mm field of view: quick 48^3 (4 mm
// voxels), full 64^3 (3 mm).
//
// Model: RedWganGenerator{features {8, 16, 32, 64} (quick) or {16, 32, 64, 128} (full); the paper's
// {32, 64, 128, 256} is too slow for a CPU example}, RedWganCritic{patch_size {6, 32, 32}, features
// {8, 16, 32} (quick) or {16, 32, 64} (full)}, both initialised as the reference (red_wgan_init_,
// Kaiming normal), except that the generator's last convolution starts at zero, so that the
// untrained generator returns its input (residual learning from the identity). Training, batch 4 of
// random 6x32x32 patches centred inside the head, Adam betas (0.5, 0.9) for both networks:
//   phase 1: generator steps on MSE alone (quick 140, full 600), lr 2e-3 cosine-annealed to 1e-4;
//   phase 2: generator steps (quick 20, full 100) on MSE + 1e-4 x wgan_generator_loss, lr 2e-4, each
//     after n_critic critic steps (quick 3, full 5 as the reference) on wgan_critic_loss +
//     gradient_penalty (lambda 10), critic lr 5e-4.
// The paper weighs the adversarial term 1e-3 against an MSE on raw 12-bit intensities (its critic
// sees them divided by 4096); on intensities near 1 the MSE is millions of times smaller, and with 1e-3
// the 20 adversarial steps cost up to 0.8 dB inside the head, so the example takes 1e-4. The paper's generator loss
// also has 0.1 x a VGG19 perceptual term; voxnn has no VGG, so it is left out. Its learning rate
// (5e-6), batch (110) and epochs are for a GPU; these are not.
//
// Metric: PSNR (metrics::psnr, fastMRI's: peak = the clean volume's maximum) of the denoised held-out
// volumes against the clean ones, mean over the test volumes; SSIM (metrics::ssim3d, 7^3 window) and
// the PSNR inside the head only (clean > 0) in the details. Baseline: the noisy input itself. Also
// reported (fixed settings): a 3x3x3 Gaussian filter (sigma 1 voxel, separable taps
// exp(-1/2), 1, exp(-1/2) normalised, edges replicated) and a 3x3x3 mean filter. Much of the
// network's margin over both is the background: the Rician noise floor (mean sigma sqrt(pi / 2))
// that no linear filter removes and the ReLU-output generator learns to zero; the head-only PSNR
// shows the margin inside the head.
//
// Numbers (2-core Zen 4, 2026-11-22; see docs/models/red_wgan.md), held-out PSNR dB noisy / Gaussian /
// RED-WGAN, and inside the head Gaussian / RED-WGAN:
//   quick (--quick: 48^3, 140 + 20 steps, 2 test volumes): seed 1: 19.66 / 20.76 / 31.74, head 26.19 /
//     26.75; seed 2: 19.69 / 20.88 / 31.98, head 26.18 / 27.33; seed 3: 19.61 / 20.72 / 32.13, head
//     25.82 / 26.89; 38-44 s wall on 2 idle threads, 380 MB
//   full  (default: 64^3, 600 + 100 steps, 4 test volumes), seed 1: 19.64 / 20.87 / 32.61, head 26.68 /
//     27.68; 25 min on one thread beside other jobs (the 100 adversarial steps with 5 critic steps
//     each take half of it), 1.4 GB
//
// Run: voxnn_denoising [--quick] [--out DIR] [--seed N] [--steps N]   (--steps: the MSE-phase steps)
// Writes DIR/denoised.nii.gz (the generator's output for the first held-out volume, on the phantom's
// 192 mm grid: i towards superior, j posterior, k right), noisy.nii.gz and clean.nii.gz (its input
// and target), denoising.png (clean / noisy / RED-WGAN / Gaussian, one intensity window), loss.png
// (generator MSE; critic loss, Wasserstein estimate and gradient penalty) and result.md.
// --data is not supported: scoring needs the clean volume.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "common/example.hpp"
#include "common/phantom_grid.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/losses/adversarial.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/metrics/image.hpp"
#include "voxnn/models/red_wgan.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"
#include "voxnn/viz/montage.hpp"
#include "voxnn/viz/plot.hpp"

using namespace voxnn;

namespace {

struct Settings {
  int64_t size = 64;                          // volumes are size^3, 192 mm field of view
  std::array<int64_t, 3> patch = {6, 32, 32};  // training patches (D, H, W): the paper's
  int64_t train_subjects = 16;
  int64_t test_subjects = 4;
  std::array<int64_t, 4> g_features = {16, 32, 64, 128};
  std::array<int64_t, 3> c_features = {16, 32, 64};
  int64_t mse_steps = 600;   // phase 1: generator steps on MSE alone
  int64_t adv_steps = 100;   // phase 2: generator steps on MSE + adv_weight * WGAN loss
  int64_t n_critic = 5;      // critic steps (WGAN-GP) per phase-2 generator step (the reference's 5)
  int64_t batch = 4;
  double lr_g = 2e-3;   // phase 1: cosine-annealed from lr_g to lr_g / 20
  double lr_g2 = 2e-4;  // phase 2 (adversarial fine-tuning)
  double lr_c = 5e-4;
  double sigma = 0.08;       // Rician noise level, of the white-matter intensity (1)
  double adv_weight = 1e-4;  // the paper's 1e-3 is for 12-bit intensities (see the header)
  double lambda = 10;        // gradient-penalty weight
};

// T1-like tissue intensities drawn per subject, rendered at twice the resolution and averaged 2x2x2
// (partial volume): the clean volume (n, n, n), white matter = 1.
Tensor<float> clean_phantom(int64_t n, uint64_t seed) {
  Generator gen(seed ^ 0xde7'0000'0000'0000ull);
  RandomStream rng(gen);
  data::BrainPhantomOptions o{.size = {2 * n, 2 * n, 2 * n},
                              .seed = seed,
                              .num_lesions = rng.integer(4),
                              .skull = rng.uniform(0.30, 0.50),
                              .grey_matter = rng.uniform(0.55, 0.70),
                              .white_matter = 1.0,
                              .csf = rng.uniform(0.10, 0.25),
                              .lesion_min = 0.30,
                              .lesion_max = 0.50};
  const Tensor<float> fine = data::brain_phantom<float>(o).image;
  return examples::average_2x2x2(fine.data(), n);
}

// Rician corruption of a magnitude image: |x + n1 + i n2| with n1, n2 ~ N(0, sigma^2).
Tensor<float> rician(const Tensor<float>& clean, double sigma, Generator& gen) {
  const Tensor<float> x = clean.contiguous();
  const Tensor<float> n1 = randn<float>(x.shape(), gen), n2 = randn<float>(x.shape(), gen);
  Tensor<float> out(x.shape());
  const auto s = static_cast<float>(sigma);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float re = x.data()[i] + s * n1.data()[i], im = s * n2.data()[i];
    out.data()[i] = std::sqrt(re * re + im * im);
  }
  return out;
}

// A separable 3x3x3 filter with taps (w0, w1, w0) on every axis, edges replicated.
Tensor<float> filter3(const Tensor<float>& volume, float w0, float w1) {
  Tensor<float> cur = volume.contiguous().clone();
  const int64_t D = cur.size(0), H = cur.size(1), W = cur.size(2);
  const std::array<int64_t, 3> len = {D, H, W}, stride = {H * W, W, 1};
  for (int axis = 0; axis < 3; ++axis) {
    Tensor<float> next(cur.shape());
    const float* in = cur.data();
    float* out = next.data();
    const int64_t L = len[static_cast<std::size_t>(axis)], st = stride[static_cast<std::size_t>(axis)];
    for (int64_t i = 0; i < D * H * W; ++i) {
      const int64_t pos = (i / st) % L;
      const float lo = in[pos > 0 ? i - st : i], hi = in[pos + 1 < L ? i + st : i];
      out[i] = w0 * (lo + hi) + w1 * in[i];
    }
    cur = next;
  }
  return cur;
}

template <std::size_t N>
std::string list_string(const std::array<int64_t, N>& f) {
  std::string out = "{";
  for (std::size_t i = 0; i < N; ++i) out += (i ? ", " : "") + std::to_string(f[i]);
  return out + "}";
}

struct Quality {
  double psnr = 0, ssim = 0, psnr_head = 0;  // psnr_head: over the voxels inside the head (clean > 0)
};

Quality quality(const Tensor<float>& clean, const Tensor<float>& x) {
  const Tensor<float> c = clean.contiguous(), y = x.contiguous();
  double se = 0, peak = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < c.numel(); ++i)
    if (c.data()[i] > 0) {
      const double d = static_cast<double>(c.data()[i]) - static_cast<double>(y.data()[i]);
      se += d * d, ++count, peak = std::max(peak, static_cast<double>(c.data()[i]));
    }
  return {metrics::psnr(c, y), metrics::ssim3d(c, y), 10 * std::log10(peak * peak / (se / static_cast<double>(count)))};
}

// The mean quality over volumes.
Quality mean_of(const std::vector<Quality>& qs) {
  Quality m;
  for (const Quality& q : qs) {
    m.psnr += q.psnr / static_cast<double>(qs.size());
    m.ssim += q.ssim / static_cast<double>(qs.size());
    m.psnr_head += q.psnr_head / static_cast<double>(qs.size());
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded("denoising", [&] {
    const examples::Args args =
        examples::parse_args(argc, argv, "denoising", "[--quick] [--out DIR] [--seed N] [--steps N]");
    if (args.data) throw Error("--data is not supported by this example (it needs clean volumes to score against)");
    Settings s;
    if (args.quick) {
      s.size = 48;
      s.train_subjects = 8;
      s.test_subjects = 2;
      s.g_features = {8, 16, 32, 64};
      s.c_features = {8, 16, 32};
      s.mse_steps = 140;
      s.adv_steps = 20;
      s.n_critic = 3;
      s.batch = 4;
    }
    if (args.steps > 0) s.mse_steps = args.steps;
    const uint64_t seed = args.seed;
    const int64_t n = s.size;
    const auto [pd, ph, pw] = s.patch;
    const examples::Stopwatch total_clock;

    // Data: clean training volumes (noise is drawn fresh for every patch), held-out clean volumes
    // from other phantom seeds with one fixed noise realisation each.
    std::vector<Tensor<float>> train_clean;
    for (int64_t t = 0; t < s.train_subjects; ++t)
      train_clean.push_back(clean_phantom(n, examples::training_sample_seed(seed, t)));
    std::vector<Tensor<float>> test_clean, test_noisy;
    for (int64_t t = 0; t < s.test_subjects; ++t) {
      const uint64_t id = examples::held_out_sample_seed(seed, t);
      test_clean.push_back(clean_phantom(n, id));
      Generator noise(id * 31 + 7);
      test_noisy.push_back(rician(test_clean.back(), s.sigma, noise));
    }
    std::printf("voxnn denoising: RED-WGAN on generated %lld^3 brain phantoms with Rician noise (sigma %.3g of "
                "white matter); %lld training volumes, %lld held-out; data in %.1f s\n",
                static_cast<long long>(n), s.sigma, static_cast<long long>(s.train_subjects),
                static_cast<long long>(s.test_subjects), total_clock.seconds());

    manual_seed(seed);
    Generator init(seed * 1009 + 3);
    models::RedWganGenerator<float> gnet({.features = s.g_features});
    models::RedWganCritic<float> critic({.patch_size = s.patch, .features = s.c_features});
    models::red_wgan_init_(gnet, init);
    models::red_wgan_init_(critic, init);
    // Residual learning from the identity: the last convolution starts at zero, so the untrained
    // generator returns its (non-negative) input and training starts at the noisy input's error.
    nn::init::zeros_(gnet.deConv4_1.weight.mutable_value());
    std::printf("generator features %s (%lld parameters), critic features %s on %lldx%lldx%lld patches (%lld "
                "parameters)\n",
                list_string(s.g_features).c_str(), static_cast<long long>(gnet.num_parameters()),
                list_string(s.c_features).c_str(), static_cast<long long>(pd), static_cast<long long>(ph),
                static_cast<long long>(pw), static_cast<long long>(critic.num_parameters()));
    std::printf("schedule: %lld generator steps on MSE (lr %.0e cosine-annealed to %.0e), then %lld generator steps on "
                "MSE + %.0e x WGAN (lr %.0e) with %lld WGAN-GP critic steps (lambda %g, lr %.0e) each; batch %lld, "
                "Adam betas (0.5, 0.9)\n",
                static_cast<long long>(s.mse_steps), s.lr_g, s.lr_g / 20, static_cast<long long>(s.adv_steps),
                s.adv_weight, s.lr_g2, static_cast<long long>(s.n_critic), s.lambda, s.lr_c,
                static_cast<long long>(s.batch));
    optim::Adam<float> opt_g(gnet.parameters(), {.lr = s.lr_g, .betas = {0.5, 0.9}});
    optim::Adam<float> opt_c(critic.parameters(), {.lr = s.lr_c, .betas = {0.5, 0.9}});

    Generator data_gen(seed * 7919 + 17);
    RandomStream pick(data_gen);
    // A batch of clean patches and their fresh noisy versions, (batch, 1, pd, ph, pw) each.
    auto draw = [&]() -> std::pair<Tensor<float>, Tensor<float>> {
      std::vector<Tensor<float>> cs;
      for (int64_t b = 0; b < s.batch; ++b) {
        const Tensor<float>& v = train_clean[static_cast<std::size_t>(pick.integer(s.train_subjects))];
        // Patches whose centre is inside the head: the empty background is easy and would take
        // half the batches.
        int64_t o0 = 0, o1 = 0, o2 = 0;
        for (int tries = 0; tries < 20; ++tries) {
          o0 = pick.integer(n - pd + 1), o1 = pick.integer(n - ph + 1), o2 = pick.integer(n - pw + 1);
          if (v.data()[((o0 + pd / 2) * n + o1 + ph / 2) * n + o2 + pw / 2] > 0) break;
        }
        cs.push_back(v.narrow(0, o0, pd).narrow(1, o1, ph).narrow(2, o2, pw).contiguous().reshape({1, 1, pd, ph, pw}));
      }
      Tensor<float> clean = ops::cat(cs, 0);
      return {clean, rician(clean, s.sigma, data_gen)};
    };

    // The generator on every held-out volume (eval mode, no gradients), and the quality of each result.
    auto evaluate = [&](std::vector<Tensor<float>>& out) {
      gnet.eval();
      NoGradGuard no_grad;
      std::vector<Quality> q;
      out.clear();
      for (int64_t t = 0; t < s.test_subjects; ++t) {
        const Tensor<float>& noisy = test_noisy[static_cast<std::size_t>(t)];
        out.push_back(gnet(Var<float>(noisy.reshape({1, 1, n, n, n}))).value().contiguous().reshape({n, n, n}));
        q.push_back(quality(test_clean[static_cast<std::size_t>(t)], out.back()));
      }
      gnet.train();
      return q;
    };
    Quality q_phase1;
    double phase1_eval_seconds = 0;  // not training time

    // Training.
    const examples::Stopwatch clock;
    const int64_t total = s.mse_steps + s.adv_steps;
    std::vector<std::pair<double, double>> curve_mse, curve_c, curve_w, curve_gp;
    train::Progress progress({.total = total, .print_every = std::max<int64_t>(1, total / 10)}, std::cout);
    double ema = 0, w_ema = 0, gp_ema = 0, c_ema = 0;
    int64_t critic_steps = 0;
    for (int64_t step = 1; step <= total; ++step) {
      const bool adversarial = step > s.mse_steps;
      opt_g.set_lr(adversarial ? s.lr_g2
                               : s.lr_g * (0.05 + 0.95 * 0.5 * (1 + std::cos(3.141592653589793 * static_cast<double>(step - 1) /
                                                                      static_cast<double>(std::max<int64_t>(1, s.mse_steps - 1))))));
      if (adversarial) {
        for (int64_t k = 0; k < s.n_critic; ++k) {
          const auto [clean, noisy] = draw();
          Tensor<float> fake;
          {
            NoGradGuard no_grad;
            fake = gnet(Var<float>(noisy)).value();
          }
          const Var<float> real_v(clean), fake_v(fake);
          opt_c.zero_grad();
          const Var<float> wloss = losses::wgan_critic_loss(critic(real_v), critic(fake_v));
          const Var<float> gp = losses::gradient_penalty(critic, real_v, fake_v, data_gen, s.lambda);
          const Var<float> closs = add(wloss, gp);
          closs.backward();
          opt_c.step();
          const double w = -wloss.item(), g = gp.item(), c = closs.item();
          w_ema = critic_steps == 0 ? w : 0.9 * w_ema + 0.1 * w;
          gp_ema = critic_steps == 0 ? g : 0.9 * gp_ema + 0.1 * g;
          c_ema = critic_steps == 0 ? c : 0.9 * c_ema + 0.1 * c;
          ++critic_steps;
        }
        curve_w.emplace_back(static_cast<double>(step), w_ema);
        curve_gp.emplace_back(static_cast<double>(step), gp_ema);
        curve_c.emplace_back(static_cast<double>(step), c_ema);
      }
      const auto [clean, noisy] = draw();
      opt_g.zero_grad();
      const Var<float> out = gnet(Var<float>(noisy));
      const Var<float> mse = losses::mse_loss(out, Var<float>(clean));
      Var<float> loss = mse;
      double gadv = 0;
      if (adversarial) {
        const Var<float> adv = losses::wgan_generator_loss(critic(out));
        gadv = adv.item();
        loss = add(mse, mul(adv, static_cast<float>(s.adv_weight)));
      }
      loss.backward();
      opt_g.step();
      const double l = mse.item();
      ema = step == 1 ? l : 0.95 * ema + 0.05 * l;
      curve_mse.emplace_back(static_cast<double>(step), ema);
      if (adversarial) {
        progress.update(step, {{"mse", ema}, {"W", w_ema}, {"gp", gp_ema}, {"g_adv", gadv}});
      } else {
        progress.update(step, {{"mse", ema}});
      }
      if (step == s.mse_steps) {
        const examples::Stopwatch eval_clock;
        std::vector<Tensor<float>> unused;
        q_phase1 = mean_of(evaluate(unused));
        std::printf("after the MSE phase (%.1f s): held-out PSNR %.2f dB, SSIM %.4f\n", clock.seconds(), q_phase1.psnr,
                    q_phase1.ssim);
        phase1_eval_seconds = eval_clock.seconds();
      }
    }
    progress.finish();
    const double train_seconds = clock.seconds() - phase1_eval_seconds;

    // Evaluation: whole held-out volumes through the (fully convolutional) generator in eval mode.
    std::vector<Tensor<float>> denoised;
    const Quality q_net = mean_of(evaluate(denoised));
    const float g0 = std::exp(-0.5f), gsum = 1 + 2 * g0;  // 3-tap Gaussian, sigma 1 voxel
    std::vector<Quality> noisy_q, gauss_q, mean_q;
    Tensor<float> first_gauss;
    for (int64_t t = 0; t < s.test_subjects; ++t) {
      const Tensor<float>& clean = test_clean[static_cast<std::size_t>(t)];
      const Tensor<float>& noisy = test_noisy[static_cast<std::size_t>(t)];
      const Tensor<float> gauss = filter3(noisy, g0 / gsum, 1 / gsum), mean3 = filter3(noisy, 1.f / 3, 1.f / 3);
      noisy_q.push_back(quality(clean, noisy));
      gauss_q.push_back(quality(clean, gauss));
      mean_q.push_back(quality(clean, mean3));
      const Quality d = quality(clean, denoised[static_cast<std::size_t>(t)]);
      std::printf("test volume %lld: PSNR / SSIM  noisy %.2f / %.4f, Gaussian 3x3x3 %.2f / %.4f, mean 3x3x3 %.2f / "
                  "%.4f, RED-WGAN %.2f / %.4f\n",
                  static_cast<long long>(t + 1), noisy_q.back().psnr, noisy_q.back().ssim, gauss_q.back().psnr,
                  gauss_q.back().ssim, mean_q.back().psnr, mean_q.back().ssim, d.psnr, d.ssim);
      if (t == 0) first_gauss = gauss;
    }
    const Quality q_noisy = mean_of(noisy_q), q_gauss = mean_of(gauss_q), q_mean = mean_of(mean_q);
    std::printf("held-out mean over %lld volumes, PSNR / SSIM / PSNR in the head: noisy %.2f / %.4f / %.2f, Gaussian "
                "3x3x3 %.2f / %.4f / %.2f, mean 3x3x3 %.2f / %.4f / %.2f, RED-WGAN %.2f / %.4f / %.2f (MSE phase "
                "only: %.2f / %.4f / %.2f)\n",
                static_cast<long long>(s.test_subjects), q_noisy.psnr, q_noisy.ssim, q_noisy.psnr_head, q_gauss.psnr,
                q_gauss.ssim, q_gauss.psnr_head, q_mean.psnr, q_mean.ssim, q_mean.psnr_head, q_net.psnr, q_net.ssim,
                q_net.psnr_head, q_phase1.psnr, q_phase1.ssim, q_phase1.psnr_head);
    const Tensor<float>& first_net = denoised[0];
    const bool beats_filter = q_net.psnr > std::max(q_gauss.psnr, q_mean.psnr);
    const bool beats_filter_head = q_net.psnr_head > std::max(q_gauss.psnr_head, q_mean.psnr_head);
    std::printf("RED-WGAN %s the best classical filter on PSNR (%.2f dB) and %s it inside the head (%.2f dB)\n",
                beats_filter ? "beats" : "does NOT beat", std::max(q_gauss.psnr, q_mean.psnr),
                beats_filter_head ? "beats" : "does NOT beat", std::max(q_gauss.psnr_head, q_mean.psnr_head));

    // Results.
    io::NiftiWriteOptions nifti;
    nifti.xyzt_units = 2;  // millimetres
    nifti.descrip = "voxnn RED-WGAN denoised phantom";
    io::write_nifti(args.out / "denoised.nii.gz", examples::phantom_volume(first_net, n), nifti);
    io::write_nifti(args.out / "noisy.nii.gz", examples::phantom_volume(test_noisy[0], n), {.xyzt_units = 2});
    io::write_nifti(args.out / "clean.nii.gz", examples::phantom_volume(test_clean[0], n), {.xyzt_units = 2});
    viz::MontageOptions mo;
    mo.window = std::pair<double, double>{0.0, 1.05};
    mo.title = "first held-out volume (one window for all)";
    io::write_png(args.out / "denoising.png",
                  viz::comparison<float>({{"clean", examples::phantom_volume(test_clean[0], n)},
                                          {"noisy", examples::phantom_volume(test_noisy[0], n)},
                                          {"RED-WGAN", examples::phantom_volume(first_net, n)},
                                          {"Gaussian 3x3x3", examples::phantom_volume(first_gauss, n)}},
                                         mo));
    const viz::Image left = viz::Image::from_png(viz::plot(
        {{"MSE (moving average)", curve_mse}}, {.title = "generator (both phases)", .log_y = true, .width = 640, .height = 420}));
    const viz::Image right = viz::Image::from_png(
        viz::plot({{"critic loss", curve_c}, {"W estimate mean D(real) - mean D(fake)", curve_w},
                   {"gradient penalty", curve_gp}},
                  {.title = "critic, WGAN-GP phase (moving averages)", .width = 640, .height = 420}));
    viz::Image both(left.width() + right.width(), std::max(left.height(), right.height()), {255, 255, 255});
    both.blit(left, 0, 0);
    both.blit(right, left.width(), 0);
    io::write_png(args.out / "loss.png", both.to_png());

    examples::Result r;
    r.model = "RED-WGAN";
    r.task = "denoising of generated 3D brain phantoms (Rician noise)";
    r.metric = "PSNR (dB)";
    r.baseline = "noisy input";
    r.baseline_value = q_noisy.psnr;
    r.value = q_net.psnr;
    r.higher_is_better = true;
    r.train_seconds = train_seconds;
    r.figures = {"denoising.png", "loss.png"};
    char details[1400];
    std::snprintf(details, sizeof details,
                  "mean over %lld held-out %lld^3 phantoms (Rician sigma %.3g of white matter), PSNR (dB, peak = the "
                  "clean volume's max) / SSIM (7^3) / PSNR inside the head only: noisy %.2f / %.4f / %.2f, Gaussian "
                  "3x3x3 (sigma 1 voxel) %.2f / %.4f / %.2f, mean 3x3x3 %.2f / %.4f / %.2f, RED-WGAN %.2f / %.4f / "
                  "%.2f (after the MSE phase alone %.2f / %.4f / %.2f); RED-WGAN %s the best filter on PSNR and %s it "
                  "inside the head; generator features %s, critic %s on %lldx%lldx%lld patches; %lld MSE steps "
                  "(lr %.0e cosine to %.0e) then %lld steps of MSE + %.0e WGAN (lr %.0e) with %lld WGAN-GP critic "
                  "steps each (lambda %g, lr %.0e), batch %lld, Adam (0.5, 0.9); no VGG perceptual term; seed %llu; "
                  "total %.1f s",
                  static_cast<long long>(s.test_subjects), static_cast<long long>(n), s.sigma, q_noisy.psnr,
                  q_noisy.ssim, q_noisy.psnr_head, q_gauss.psnr, q_gauss.ssim, q_gauss.psnr_head, q_mean.psnr,
                  q_mean.ssim, q_mean.psnr_head, q_net.psnr, q_net.ssim, q_net.psnr_head, q_phase1.psnr, q_phase1.ssim,
                  q_phase1.psnr_head, beats_filter ? "beats" : "does not beat",
                  beats_filter_head ? "beats" : "does not beat", list_string(s.g_features).c_str(),
                  list_string(s.c_features).c_str(), static_cast<long long>(pd), static_cast<long long>(ph),
                  static_cast<long long>(pw), static_cast<long long>(s.mse_steps), s.lr_g, s.lr_g / 20,
                  static_cast<long long>(s.adv_steps), s.adv_weight, s.lr_g2, static_cast<long long>(s.n_critic),
                  s.lambda, s.lr_c, static_cast<long long>(s.batch), static_cast<unsigned long long>(seed),
                  total_clock.seconds());
    r.details = details;
    return examples::finish(args, r);
  });
}
