// Unsupervised deformable registration with VoxelMorph (models::VxmDense) on generated brain phantoms.
//
// What it shows: a VxmDense network learns, without ground-truth deformations or labels, to align a
// moving volume to a fixed one from image similarity (local NCC) plus a smoothness penalty on its flow
// (voxelmorph's Grad l2); one forward pass then registers a new pair, with a diffeomorphic deformation.
// It is scored by the Dice overlap of the warped moving labels with the fixed labels, against no
// registration and against an affine registration optimised for each pair.
//
// Data (generated, fixed seeds): each pair is one random brain phantom (data::brain_phantom: skull,
// grey matter, white matter, ventricles; T1-like intensities, no lesions; the image is drawn at twice
// the resolution and averaged 2x2x2, so edges have partial-volume values). The fixed image is the
// phantom; the moving one is the phantom warped by a random deformation: a smooth velocity field
// (N(0, 1.6 voxels at 32^3) on a 5^3 control grid, upsampled trilinearly, integrated by scaling and
// squaring, so diffeomorphic) plus a small random affine (rotations up to 2.5 degrees, scalings up to
// 2.5 %, shifts up to half a voxel at 32^3), labels carried along by nearest-neighbour warping; both
// images get independent Gaussian noise (sigma 0.03; tissue values 0.1 to 1). Training draws a fresh
// pair every step (phantom seeds 1, 2, ...; --seed N starts at (N - 1) * 100000 + 1); the held-out test
// pairs come from seeds 1000001 + (N - 1) * 1000, ..., which training never sees.
//
// Model: VxmDense with voxelmorph's default U-Net features ([16, 32, 32, 32] / [32, 32, 32, 32, 32,
// 16, 16]) and registration path (int_steps 7, int_downsize 2: the flow is integrated at half
// resolution), with unet_half_res (the U-Net stops at half resolution, which int_downsize 2 allows: 4x
// cheaper). Loss NCC(fixed, moved) (voxelmorph's local NCC, window 9) + 1.0 Grad l2(pre-integration
// flow), voxelmorph's NCC setting (with MSE + 0.01 Grad the network starts learning later and the quick
// run's margin over the affine baseline was smaller); Adam lr 1e-3, one pair per step; 500 steps at 32^3
// (--quick) or 1500 at 48^3.
//
// Metrics, on the held-out pairs: the mean over skull, grey matter, white matter and ventricles of the
// Dice (metrics::dice) between the fixed labels and the moving labels warped by the predicted flow
// (nearest); the fraction of voxels where the deformation folds (Jacobian determinant <= 0).
// Baselines on the same pairs, fixed settings: identity (no registration) and affine-only, a 3x4
// affine per pair (affine_grid + trilinear grid_sample, align_corners), from the identity, 200 Adam
// steps (lr 0.01) on the MSE to the fixed image. The reported baseline is the better of the two (the
// affine one here); the other is in the details.
//
// Numbers (mean Dice on the held-out pairs; 2-core Zen 4 shared with other jobs, 2 threads, 2026-11-22;
// docs/models/vxm_dense.md has more):
//   --quick (32^3, 500 steps, 8 test pairs): identity / affine-only / VxmDense
//       seed 1: 0.6005 / 0.6434 / 0.6817 (0.7028 in a second run: 2-thread runs are not bit-reproducible)
//       seed 2: 0.6262 / 0.6556 / 0.7156;  seed 3: 0.5843 / 0.6306 / 0.6902;  folding fraction 0
//       36 s wall (40 s CPU) with 2 threads on the loaded machine, 66 MB peak memory
//   full (48^3, 1500 steps, 16 test pairs), seed 1: 0.5972 / 0.6544 / 0.7995, folding fraction 0;
//       about 350 s of CPU time, 163 MB
//
// Run: voxnn_registration [--quick] [--out DIR] [--seed N] [--steps N]
// Writes to DIR (default out/registration), for the first test pair: fixed.nii.gz, moving.nii.gz,
// moved.nii.gz, flow.nii.gz (the displacement in voxels along the array axes i, j, k, as voxelmorph's
// flow: shape [i, j, k, 1, 3] with NIfTI's vector intent), jacobian.nii.gz (det J); registration.png
// (fixed / moving / affine-only / VxmDense / det J, the fixed labels outlined on each), loss.png, and
// result.md.
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
#include "voxnn/autograd/functions/deformation.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/losses/registration.hpp"
#include "voxnn/metrics/overlap.hpp"
#include "voxnn/models/vxm_dense.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"
#include "voxnn/viz/montage.hpp"
#include "voxnn/viz/plot.hpp"

using namespace voxnn;

namespace {

constexpr int64_t kStructures = 4;  // labels 1..4: skull, grey matter, white matter, ventricles
const char* const kStructureNames[kStructures] = {"skull", "grey", "white", "ventricles"};

struct Settings {
  int64_t size = 48;             // volumes are size^3
  int64_t steps = 1500;          // training steps, one pair each
  int64_t test_pairs = 16;
  double lr = 1e-3;
  double lambda = 1.0;           // weight of the Grad l2 smoothness term (voxelmorph's, with NCC)
  double velocity_sigma = 1.6;   // voxels at 32^3 (scaled with the size), on the control grid
  double affine_scale = 0.5;     // 1: rotations 5 degrees, scalings 5 %, shifts 1 voxel at 32^3
  int64_t affine_steps = 200;    // the affine baseline (the same in quick and full mode)
  double affine_lr = 0.01;
};

// One registration problem: volumes [1, 1, n, n, n], labels as floats (0..4).
struct Pair {
  Tensor<float> fixed, moving, fixed_labels, moving_labels;
};

// The displacement (voxels, [1, 3, n, n, n]) of a small random affine about the centre:
// x -> A (x - c) + c + t, A a rotation about the three axes times an anisotropic scaling.
Tensor<float> affine_displacement(int64_t n, RandomStream& rng, double m) {
  using M = std::array<std::array<double, 3>, 3>;
  const double deg = 3.14159265358979323846 / 180;
  std::array<double, 3> angle{}, scale{}, shift{};
  for (double& a : angle) a = m * rng.uniform(-5, 5) * deg;
  for (double& s : scale) s = 1 + m * rng.uniform(-0.05, 0.05);
  for (double& t : shift) t = m * rng.uniform(-1, 1) * static_cast<double>(n) / 32;
  auto mul = [](const M& x, const M& y) {
    M z{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 3; ++k) z[i][j] += x[i][k] * y[k][j];
    return z;
  };
  const double c0 = std::cos(angle[0]), s0 = std::sin(angle[0]), c1 = std::cos(angle[1]), s1 = std::sin(angle[1]);
  const double c2 = std::cos(angle[2]), s2 = std::sin(angle[2]);
  const M r0{{{1, 0, 0}, {0, c0, -s0}, {0, s0, c0}}}, r1{{{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}}},
      r2{{{c2, -s2, 0}, {s2, c2, 0}, {0, 0, 1}}};
  M A = mul(mul(r2, r1), r0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) A[i][j] *= scale[j];
  Tensor<float> d = empty<float>({1, 3, n, n, n});
  float* p = d.data();
  const int64_t V = n * n * n;
  const double c = (static_cast<double>(n) - 1) / 2;
  for (int64_t v = 0; v < V; ++v) {
    const std::array<double, 3> x{static_cast<double>(v / (n * n)) - c, static_cast<double>(v / n % n) - c,
                                  static_cast<double>(v % n) - c};
    for (int i = 0; i < 3; ++i)
      p[i * V + v] = static_cast<float>(A[i][0] * x[0] + A[i][1] * x[1] + A[i][2] * x[2] + shift[i] - x[i]);
  }
  return d;
}

data::BrainPhantomOptions phantom_options(int64_t n, uint64_t seed) {
  // T1-like contrast: white brighter than grey, dark ventricles
  return {.size = {n, n, n}, .seed = seed, .num_lesions = 0, .skull = 0.35, .grey_matter = 0.6, .white_matter = 1.0,
          .csf = 0.1};
}

Pair make_pair(int64_t n, uint64_t seed, const Settings& st) {
  // Labels at the voxel centres; the image averaged from the same phantom at twice the resolution.
  const auto phantom = data::brain_phantom<float>(phantom_options(n, seed));
  const auto fine = data::brain_phantom<float>(phantom_options(2 * n, seed));
  const Tensor<float> image = examples::average_2x2x2(fine.image.contiguous().data(), n).reshape({1, 1, n, n, n});
  const Tensor<float> labels = ops::cast<float>(phantom.labels).reshape({1, 1, n, n, n});

  Generator gen(seed ^ 0x5eedf1e1d0000000ull);  // the deformation's and the noise's own stream
  RandomStream rng(gen);
  NoGradGuard no_grad;
  const float sigma = static_cast<float>(st.velocity_sigma * static_cast<double>(n) / 32);
  const Var<float> coarse(randn<float>({1, 3, 5, 5, 5}, gen, 0.0f, sigma));
  const Var<float> velocity = interpolate(coarse, {.size = {n, n, n}, .mode = "trilinear", .align_corners = true});
  const Var<float> flow(ops::add(vec_int(velocity, 7).value(), affine_displacement(n, rng, st.affine_scale)));
  const Tensor<float> moving = spatial_transform(Var<float>(image), flow).value();
  const Tensor<float> moving_labels = spatial_transform(Var<float>(labels), flow, "nearest").value();
  const Shape s = image.shape();
  return {ops::add(image, randn<float>(s, gen, 0.0f, 0.03f)), ops::add(moving, randn<float>(s, gen, 0.0f, 0.03f)),
          labels, moving_labels};
}

// Dice of structures 1..4 between a warped label volume and the fixed labels.
std::array<double, kStructures> dice(const Tensor<float>& warped, const Tensor<float>& fixed) {
  const Tensor<double> d =
      metrics::dice(warped, fixed, {.include_background = false, .num_classes = kStructures + 1});  // (1, 4)
  std::array<double, kStructures> out{};
  for (int k = 0; k < kStructures; ++k) out[k] = d.data()[k];
  return out;
}

double mean_of(const std::array<double, kStructures>& d) {
  double s = 0;
  for (double v : d) s += v;
  return s / kStructures;
}

// The affine baseline: theta [1, 3, 4] from the identity, Adam on MSE(warped moving, fixed).
struct AffineResult {
  Tensor<float> moved, moved_labels;
};
AffineResult affine_register(const Pair& p, const Settings& s) {
  const std::vector<int64_t> size(p.fixed.shape().begin(), p.fixed.shape().end());
  Var<float> theta(from_vector<float>(std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}, Shape{1, 3, 4}), true);
  optim::Adam<float> opt({theta}, {.lr = s.affine_lr});
  const Var<float> moving(p.moving), fixed(p.fixed);
  const GridSampleOptions trilinear{.mode = "bilinear", .padding_mode = "zeros", .align_corners = true};
  for (int64_t step = 0; step < s.affine_steps; ++step) {
    opt.zero_grad();
    const Var<float> loss = mean(square(sub(grid_sample(moving, affine_grid(theta, size, true), trilinear), fixed)));
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const Var<float> grid = affine_grid(theta, size, true);
  const GridSampleOptions nearest{.mode = "nearest", .padding_mode = "zeros", .align_corners = true};
  return {grid_sample(moving, grid, trilinear).value(), grid_sample(Var<float>(p.moving_labels), grid, nearest).value()};
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded("registration", [&] {
    const examples::Args args =
        examples::parse_args(argc, argv, "registration", "[--quick] [--out DIR] [--seed N] [--steps N]");
    Settings s;
    if (args.quick) {
      s.size = 32;
      s.steps = 500;
      s.test_pairs = 8;
    }
    if (args.steps > 0) s.steps = args.steps;
    const uint64_t seed = args.seed;
    const int64_t n = s.size;
    std::printf("voxnn registration: VxmDense on generated %lld^3 brain phantom pairs, %lld steps, seed %llu\n",
                static_cast<long long>(n), static_cast<long long>(s.steps), static_cast<unsigned long long>(seed));

    models::VxmDense<float> net({.inshape = {n, n, n}, .int_steps = 7, .int_downsize = 2, .unet_half_res = true,
                                 .seed = seed});
    std::printf("model: VxmDense, %lld parameters\n", static_cast<long long>(net.num_parameters()));
    optim::Adam<float> opt(net.parameters(), {.lr = s.lr});

    // Training: a fresh pair every step.
    const examples::Stopwatch clock;
    std::vector<std::pair<double, double>> curve, curve_ncc;
    double avg = 0, avg_ncc = 0, avg_mse = 0;
    {
      train::Progress progress({.total = s.steps, .print_every = std::max<int64_t>(1, s.steps / 10)}, std::cout);
      for (int64_t step = 1; step <= s.steps; ++step) {
        const Pair p = make_pair(n, examples::training_sample_seed(seed, step - 1), s);
        const Var<float> fixed(p.fixed), moving(p.moving);
        opt.zero_grad();
        const auto out = net(moving, fixed);
        const Var<float> ncc = losses::ncc_loss(fixed, out.y_source);  // -mean local NCC, window 9
        const Var<float> loss =
            add(ncc, mul(losses::grad_loss(out.preint_flow, {.penalty = "l2"}), static_cast<float>(s.lambda)));
        loss.backward();
        opt.step();
        // moving averages over about 10 steps (one pair per step is a noisy estimate)
        const double mse = ops::mean(ops::square(ops::sub(out.y_source.value(), p.fixed))).item();
        avg = step == 1 ? loss.item() : 0.9 * avg + 0.1 * loss.item();
        avg_ncc = step == 1 ? ncc.item() : 0.9 * avg_ncc + 0.1 * ncc.item();
        avg_mse = step == 1 ? mse : 0.9 * avg_mse + 0.1 * mse;
        curve.emplace_back(static_cast<double>(step), avg);
        curve_ncc.emplace_back(static_cast<double>(step), avg_ncc);
        progress.update(step, {{"loss", avg}, {"mse", avg_mse}});
      }
    }
    const double train_seconds = clock.seconds();

    // Evaluation on held-out pairs: identity, affine-only and VxmDense on the same pairs.
    net.eval();
    const examples::Stopwatch eval_clock;
    std::array<double, kStructures> per_id{}, per_aff{}, per_vxm{};
    double dice_id = 0, dice_aff = 0, dice_vxm = 0, folding = 0, mse_id = 0, mse_aff = 0, mse_vxm = 0;
    const double k = static_cast<double>(s.test_pairs);
    Pair first;
    AffineResult first_affine;
    Tensor<float> first_moved, first_flow, first_det;
    for (int64_t t = 0; t < s.test_pairs; ++t) {
      const Pair p = make_pair(n, examples::held_out_sample_seed(seed, t), s);
      const AffineResult aff = affine_register(p, s);
      NoGradGuard no_grad;
      const auto reg = net.register_pair(Var<float>(p.moving), Var<float>(p.fixed));
      const Tensor<float> moved_labels = spatial_transform(Var<float>(p.moving_labels), reg.flow, "nearest").value();
      const auto di = dice(p.moving_labels, p.fixed_labels), da = dice(aff.moved_labels, p.fixed_labels),
                 dv = dice(moved_labels, p.fixed_labels);
      const double fold = folding_fraction(reg.flow).data()[0];
      for (int j = 0; j < kStructures; ++j) {
        per_id[j] += di[j] / k;
        per_aff[j] += da[j] / k;
        per_vxm[j] += dv[j] / k;
      }
      dice_id += mean_of(di) / k;
      dice_aff += mean_of(da) / k;
      dice_vxm += mean_of(dv) / k;
      folding += fold / k;
      auto mse = [&](const Tensor<float>& a) { return ops::mean(ops::square(ops::sub(a, p.fixed))).item() / k; };
      mse_id += mse(p.moving);
      mse_aff += mse(aff.moved);
      mse_vxm += mse(reg.moved.value());
      std::printf("test pair %lld: Dice identity %.4f, affine-only %.4f, VxmDense %.4f (folding %.5f)\n",
                  static_cast<long long>(t + 1), mean_of(di), mean_of(da), mean_of(dv), fold);
      if (t == 0) {
        first = p;
        first_affine = aff;
        first_moved = reg.moved.value();
        first_flow = reg.flow.value();
        first_det = jacobian_determinant(reg.flow).value();
      }
    }
    std::printf("held-out mean Dice over %lld pairs: identity %.4f, affine-only %.4f, VxmDense %.4f\n",
                static_cast<long long>(s.test_pairs), dice_id, dice_aff, dice_vxm);
    std::printf("per structure (identity / affine-only / VxmDense):");
    for (int j = 0; j < kStructures; ++j)
      std::printf(" %s %.3f/%.3f/%.3f", kStructureNames[j], per_id[j], per_aff[j], per_vxm[j]);
    std::printf("\nMSE identity %.5f, affine-only %.5f, VxmDense %.5f; VxmDense folding fraction %.5f; "
                "evaluation %.1f s\n",
                mse_id, mse_aff, mse_vxm, folding, eval_clock.seconds());

    // The first test pair as NIfTI volumes, and the figures.
    io::write_nifti(args.out / "fixed.nii.gz", examples::phantom_volume(first.fixed, n));
    io::write_nifti(args.out / "moving.nii.gz", examples::phantom_volume(first.moving, n));
    io::write_nifti(args.out / "moved.nii.gz", examples::phantom_volume(first_moved, n));
    io::write_nifti(args.out / "jacobian.nii.gz", examples::phantom_volume(first_det, n));
    {
      // [1, 3, i, j, k] -> [i, j, k, 1, 3]: NIfTI puts vector components in the 5th dim
      const Tensor<float> f = first_flow.reshape({3, n, n, n}).permute({1, 2, 3, 0}).contiguous().reshape({n, n, n, 1, 3});
      io::NiftiWriteOptions o;
      o.intent_code = 1007;  // NIFTI_INTENT_VECTOR
      o.intent_name = "displacement";
      o.descrip = "VxmDense flow, voxels along i, j, k";
      io::write_nifti(args.out / "flow.nii.gz", io::Volume<float>{f, examples::phantom_affine(n)}, o);
    }
    viz::MontageOptions mo;
    mo.outline = true;
    mo.title = "fixed labels outlined; det J: VxmDense's Jacobian determinant";
    io::write_png(args.out / "registration.png",
                  viz::comparison<float, float>({{"fixed", examples::phantom_volume(first.fixed, n)},
                                                 {"moving", examples::phantom_volume(first.moving, n)},
                                                 {"affine-only", examples::phantom_volume(first_affine.moved, n)},
                                                 {"VxmDense", examples::phantom_volume(first_moved, n)},
                                                 {"det J", examples::phantom_volume(first_det, n)}},
                                                mo, examples::phantom_volume(first.fixed_labels, n)));
    io::write_png(args.out / "loss.png",
                  viz::plot({{"NCC loss + Grad l2", curve}, {"NCC loss (-local NCC)", curve_ncc}},
                            {.title = "VxmDense training loss (average over ~10 steps)"}));

    examples::Result r;
    r.model = "VxmDense";
    r.task = "deformable registration of generated brain phantoms";
    r.metric = "Dice";
    char affine_name[80];
    std::snprintf(affine_name, sizeof affine_name, "affine-only (%lld Adam steps on MSE)",
                  static_cast<long long>(s.affine_steps));
    const bool affine_better = dice_aff >= dice_id;
    r.baseline = affine_better ? affine_name : "identity (no registration)";
    r.baseline_value = affine_better ? dice_aff : dice_id;
    r.value = dice_vxm;
    r.higher_is_better = true;
    r.train_seconds = train_seconds;
    r.figures = {"registration.png", "loss.png"};
    char details[640];
    std::snprintf(details, sizeof details,
                  "mean Dice (skull, grey, white matter, ventricles) on %lld held-out %lld^3 pairs: identity %.4f, "
                  "%s %.4f, VxmDense %.4f; VxmDense folding fraction (det J <= 0) %.5f; MSE identity %.5f, "
                  "affine-only %.5f, VxmDense %.5f; VxmDense trained %lld steps (one pair each) on NCC + %.2g Grad l2, "
                  "Adam lr %.0e, seed %llu",
                  static_cast<long long>(s.test_pairs), static_cast<long long>(n), dice_id, affine_name, dice_aff,
                  dice_vxm, folding, mse_id, mse_aff, mse_vxm, static_cast<long long>(s.steps), s.lambda, s.lr,
                  static_cast<unsigned long long>(seed));
    r.details = details;
    return examples::finish(args, r);
  });
}
