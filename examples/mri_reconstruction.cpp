// Accelerated multi-coil MRI reconstruction with the end-to-end variational network (models::VarNet,
// compatible with fastMRI's fastmri.models.VarNet) at 4x acceleration, against the zero-filled
// reconstruction.
//
// What it shows: a small VarNet, trained on CPU for a few hundred steps with fastMRI's SSIM loss,
// removes most of the aliasing that 4x Cartesian undersampling leaves in the zero-filled image: its
// cascades alternate soft data consistency with the measured k-space lines and a learned U-Net
// regulariser, with coil sensitivities estimated from the fully sampled k-space centre.
//
// Data (simulated, fixed seeds): each image is a random 2-D data::brain_phantom (skull, grey matter,
// white-matter ellipses, ventricles, 0-3 small lesions) with T1-like intensities drawn per image (white
// matter 1, grey matter 0.55-0.75, CSF 0.10-0.30, skull/scalp 0.30-0.60, lesions 0.2-0.9), rendered at
// twice the resolution and averaged 2x2 (partial volume), times a random gain (0.5-2), with a smooth
// random phase (constant, linear and quadratic terms). Multi-coil k-space from data/mri_simulation.hpp:
// data::coil_sensitivity_maps (coils on a circle, random rotation and width per image),
// data::multicoil_kspace, then complex Gaussian noise at SNR 40 (rms|k| / rms|noise|). Masks from
// data/kspace_mask.hpp: data::RandomMaskFunc, fastMRI's 4x knee setting (center_fractions {0.08},
// accelerations {4}: round(0.08 W) central columns plus random columns to W / 4 in expectation); the
// training draws a fresh mask and noise every time it uses an image. Target, as fastMRI's: the
// root-sum-of-squares image of the fully sampled (noisy) k-space; the input is that k-space masked.
// Training images come from phantom seeds derived from --seed, the held-out ones from seeds 1000000 + ...
// (never trained on), each with one fixed mask and noise draw shared by both methods.
//   quick: 64 x 64, 6 coils, 96 training images, 8 held-out;  full: 80 x 80, 8 coils, 256 and 16.
//
// Model: models::VarNet (fastMRI's defaults are num_cascades 12, sens_chans 8, sens_pools 4, chans 18,
// pools 4: 29.9 M parameters), here smaller for CPU training:
//   quick: {num_cascades 5, sens_chans 4, sens_pools 3, chans 8, pools 3}   631,905 parameters
//   full:  {num_cascades 6, sens_chans 4, sens_pools 3, chans 10, pools 3}  1,158,148 parameters
// Loss: losses::ssim_loss (fastMRI's SSIMLoss: 7x7 window, data range = each target's maximum), Adam lr
// 2e-3 (fastMRI uses 3e-4 over 50 epochs; faster here for a short run) with cosine decay, batch 1, 500
// steps (quick) or 1500 (full); num_low_frequencies from the mask function, as fastMRI's VarNet module.
//
// Baseline (fixed, no parameters): zero-filled reconstruction, the root-sum-of-squares over coils of
// ifft2c of the same masked k-space (fastMRI's zero-filled baseline without the centre crop).
// Metrics (metrics/image.hpp, fastMRI's evaluate.py): SSIM (the reported metric), PSNR and NMSE, each
// per held-out image with its own data range (the image's maximum), averaged over the held-out images.
//
// Numbers (2-core Zen 4 shared, 2026-11-22; see docs/models/varnet.md):
//   quick (--quick, seeds 1 / 2 / 3): SSIM 0.7527 / 0.7363 / 0.7418 against zero-filled 0.6020 / 0.6011 /
//     0.6049; PSNR 24.14 / 23.48 / 23.66 dB against 20.50 / 20.29 / 20.42; NMSE 0.0142 / 0.0165 / 0.0152
//     against 0.0331 / 0.0339 / 0.0317. About 31 s of CPU on one thread in all (data 0.2 s, training
//     ~30 s, evaluation and figures < 1 s), 100 MB peak memory.
//   full (default, seed 1): SSIM 0.8256 against zero-filled 0.5799, PSNR 26.41 / 20.83 dB, NMSE 0.0085 /
//     0.0300 (16 held-out 80 x 80 images); about 205 s of CPU on one thread, 270 MB peak memory.
//
// Run: voxnn_mri_reconstruction [--quick] [--out DIR] [--seed N] [--steps N]
// Writes DIR/varnet.nii.gz, zero_filled.nii.gz and ground_truth.nii.gz (the held-out images stacked as
// a volume [row, column, image], 1 mm pixels: rows towards posterior, columns towards the subject's
// right, images along superior), reconstruction.png (ground truth / zero-filled / VarNet / error maps
// of three held-out images), loss.png and result.md. --data is not supported: the example simulates
// its own k-space.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "common/example.hpp"
#include "voxnn/autograd/functions/complex.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/data/kspace_mask.hpp"
#include "voxnn/data/mri_simulation.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/losses/ssim.hpp"
#include "voxnn/metrics/image.hpp"
#include "voxnn/models/varnet.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"
#include "voxnn/viz/montage.hpp"
#include "voxnn/viz/plot.hpp"

using namespace voxnn;

namespace {

struct Settings {
  int64_t size = 80;                                // images are size x size pixels (1 mm)
  int64_t coils = 8;
  double snr = 40;                                  // rms|k| / rms|noise| of each image's multi-coil k-space
  double acceleration = 4, center_fraction = 0.08;  // fastMRI's 4x knee setting (RandomMaskFunc)
  int64_t train_images = 256;                       // training pool (fresh mask and noise at every draw)
  int64_t test_images = 16;                         // held out: other phantom seeds, one fixed mask and noise each
  models::VarNetOptions model{.num_cascades = 6, .sens_chans = 4, .sens_pools = 3, .chans = 10, .pools = 3};
  int64_t steps = 1500, batch = 1;
  double lr = 2e-3;                                 // cosine decay to 0 over the steps
};

// One held-out or training image: its noiseless multi-coil k-space and the noise level of its scan.
struct Scan {
  Tensor<float> kspace;  // (C, H, W, 2): fft2c(image * S_c), no noise
  double noise_std = 0;  // per real / imaginary component, from the SNR
};

// A 2-D brain phantom with T1-like intensities drawn per image, rendered at twice the resolution and
// averaged 2x2 (partial volume), times a random gain; then a smooth random phase and coil maps of a
// random rotation.
Scan make_scan(const Settings& s, uint64_t seed) {
  const int64_t n = s.size;
  Generator gen(seed ^ 0x3a1'0000'0000'0000ull);
  RandomStream rng(gen);
  const double grey = rng.uniform(0.55, 0.75), csf = rng.uniform(0.10, 0.30), skull = rng.uniform(0.30, 0.60);
  const int64_t lesions = rng.integer(4);
  const double gain = rng.uniform(0.5, 2.0);
  const Tensor<float> fine = data::brain_phantom<float>({.size = {2 * n, 2 * n},
                                                         .seed = seed,
                                                         .num_lesions = lesions,
                                                         .skull = skull,
                                                         .grey_matter = grey,
                                                         .white_matter = 1.0,
                                                         .csf = csf,
                                                         .lesion_min = 0.2,
                                                         .lesion_max = 0.9})
                                 .image.contiguous();
  Tensor<float> magnitude({n, n});
  const float* f = fine.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      magnitude.data()[i * n + j] = static_cast<float>(
          gain * 0.25 *
          (f[(2 * i) * 2 * n + 2 * j] + f[(2 * i) * 2 * n + 2 * j + 1] + f[(2 * i + 1) * 2 * n + 2 * j] +
           f[(2 * i + 1) * 2 * n + 2 * j + 1]));

  // A smooth phase: a random constant, linear ramp and quadratic term (up to about +-pi across the image).
  const double p0 = rng.uniform(-std::numbers::pi, std::numbers::pi), px = rng.uniform(-1.0, 1.0),
               py = rng.uniform(-1.0, 1.0), pq = rng.uniform(-0.8, 0.8);
  Tensor<float> image({n, n, 2});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double y = (static_cast<double>(i) - n / 2) / (n / 2.0), x = (static_cast<double>(j) - n / 2) / (n / 2.0);
      const double phase = p0 + px * x + py * y + pq * (x * x - y * y);
      const float m = magnitude.data()[i * n + j];
      image.data()[2 * (i * n + j)] = m * static_cast<float>(std::cos(phase));
      image.data()[2 * (i * n + j) + 1] = m * static_cast<float>(std::sin(phase));
    }

  const Tensor<float> maps = data::coil_sensitivity_maps<float>(
      {.shape = {n, n}, .num_coils = s.coils, .coil_width = rng.uniform(0.8, 1.2),
       .rotation = rng.uniform(0.0, 2 * std::numbers::pi)});
  Scan scan;
  scan.kspace = data::multicoil_kspace(image, maps).contiguous();
  scan.noise_std = data::noise_std_for_snr(scan.kspace, s.snr);
  return scan;
}

// The root-sum-of-squares over coils of ifft2c of k-space (B, C, H, W, 2): (B, H, W).
Tensor<float> rss_image(const Tensor<float>& kspace) {
  NoGradGuard no_grad;
  return rss_complex(ifft2c(Var<float>(kspace)), 1).value().contiguous();
}

// A batch of undersampled acquisitions: masked noisy k-space (B, C, H, W, 2), column masks
// (B, 1, 1, W, 1), targets (B, 1, H, W) and each target's maximum (SSIM's data range).
struct Batch {
  Tensor<float> kspace;
  Tensor<bool> mask;
  Tensor<float> target, max_value;
  int64_t num_low_frequencies = 0;
};

Batch make_batch(const std::vector<const Scan*>& scans, data::MaskFunc& mask_func, Generator& noise_gen) {
  const int64_t b = static_cast<int64_t>(scans.size());
  const Shape& ks = scans[0]->kspace.shape();  // (C, H, W, 2)
  const int64_t c = ks[0], h = ks[1], w = ks[2];
  Batch out;
  out.kspace = Tensor<float>(Shape{b, c, h, w, 2});
  out.mask = Tensor<bool>(Shape{b, 1, 1, w, 1});
  out.target = Tensor<float>(Shape{b, 1, h, w});
  out.max_value = Tensor<float>(Shape{b});
  const int64_t kn = c * h * w * 2;
  for (int64_t i = 0; i < b; ++i) {
    const Scan& sc = *scans[static_cast<std::size_t>(i)];
    const data::KspaceMask m = mask_func(Shape{1, h, w, 2});
    out.num_low_frequencies = m.num_low_frequencies;
    const Tensor<float> noisy = ops::add(sc.kspace, randn<float>(sc.kspace.shape(), noise_gen, 0.0f,
                                                                 static_cast<float>(sc.noise_std)));
    const Tensor<float> masked = ops::where(m.mask, noisy, 0.0f).contiguous();
    std::copy_n(masked.data(), kn, out.kspace.data() + i * kn);
    const Tensor<bool> mc = m.mask.contiguous();
    std::copy_n(mc.data(), w, out.mask.data() + i * w);
    // fastMRI's target: the root-sum-of-squares image of the fully sampled (noisy) k-space.
    const Tensor<float> target = rss_image(noisy.unsqueeze(0));
    std::copy_n(target.data(), h * w, out.target.data() + i * h * w);
    out.max_value.data()[i] = *std::max_element(target.data(), target.data() + h * w);
  }
  return out;
}


struct Quality {
  double ssim = 0, psnr = 0, nmse = 0;
};

// fastMRI's metrics per held-out image (each its own data range: its maximum), averaged.
Quality evaluate(const std::vector<Tensor<float>>& truth, const std::vector<Tensor<float>>& recon) {
  Quality q;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    q.ssim += metrics::ssim(truth[i], recon[i]);
    q.psnr += metrics::psnr(truth[i], recon[i]);
    q.nmse += metrics::nmse(truth[i], recon[i]);
  }
  const double k = static_cast<double>(truth.size());
  return {q.ssim / k, q.psnr / k, q.nmse / k};
}

// The held-out images as one volume [row, column, image] with 1 mm pixels: row i runs towards
// posterior (image top = anterior), column j towards the subject's right, the image index superior.
io::Affine stack_affine(int64_t n, int64_t count) {
  const double c = (static_cast<double>(n) - 1) / 2;
  io::Affine a;
  a.m = {{{0, 1, 0, -c}, {-1, 0, 0, c}, {0, 0, 1, -(static_cast<double>(count) - 1) / 2}, {0, 0, 0, 1}}};
  return a;
}

io::Volume<float> stack_volume(const std::vector<Tensor<float>>& images) {
  const int64_t n = images[0].size(0), count = static_cast<int64_t>(images.size());
  Tensor<float> v({n, n, count});
  for (int64_t t = 0; t < count; ++t)
    for (int64_t p = 0; p < n * n; ++p) v.data()[p * count + t] = images[static_cast<std::size_t>(t)].data()[p];
  return {v, stack_affine(n, count)};
}

// One panel of the figure: an (H, W) image drawn as the axial plane of a one-slice volume.
viz::Image panel(const Tensor<float>& image, std::pair<double, double> window, const std::string& colormap) {
  const int64_t n = image.size(0);
  viz::MontageOptions mo;
  mo.window = window;
  mo.annotate = false;
  mo.colormap = colormap;
  mo.scale = std::max<int>(1, static_cast<int>(192 / n));
  return viz::slice_image(io::Volume<float>{image.contiguous().reshape({n, n, 1}), stack_affine(n, 1)},
                          viz::Plane::axial, mo);
}

Tensor<float> abs_error(const Tensor<float>& a, const Tensor<float>& b) { return ops::abs(ops::sub(a, b)); }

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded("mri_reconstruction", [&] {
    const examples::Args args =
        examples::parse_args(argc, argv, "mri_reconstruction", "[--quick] [--out DIR] [--seed N] [--steps N]");
    if (args.data) throw Error("--data is not supported by this example (it simulates its own k-space)");
    Settings s;
    if (args.quick) {
      s.size = 64;
      s.coils = 6;
      s.train_images = 96;
      s.test_images = 8;
      s.model = {.num_cascades = 5, .sens_chans = 4, .sens_pools = 3, .chans = 8, .pools = 3};
      s.steps = 500;
    }
    if (args.steps > 0) s.steps = args.steps;
    const uint64_t seed = args.seed;
    const int64_t n = s.size;
    const examples::Stopwatch total_clock;

    // Data: training and held-out phantoms (disjoint seeds) with their noiseless k-space.
    std::vector<Scan> train_scans, test_scans;
    for (int64_t t = 0; t < s.train_images; ++t)
      train_scans.push_back(make_scan(s, examples::training_sample_seed(seed, t)));
    for (int64_t t = 0; t < s.test_images; ++t)
      test_scans.push_back(make_scan(s, examples::held_out_sample_seed(seed, t)));
    // The held-out acquisitions: one fixed random mask and noise draw per image.
    data::RandomMaskFunc test_masks({.center_fractions = {s.center_fraction}, .accelerations = {s.acceleration},
                                     .seed = 7000 + seed});
    Generator test_noise(9000 + seed);
    std::vector<const Scan*> test_ptrs;
    for (const Scan& sc : test_scans) test_ptrs.push_back(&sc);
    const Batch test = make_batch(test_ptrs, test_masks, test_noise);
    std::printf("voxnn mri_reconstruction: VarNet at %gx (random column masks, centre fraction %g) on %lld x %lld brain "
                "phantoms, %lld coils, SNR %g; %lld training images, %lld held-out; data in %.1f s\n",
                s.acceleration, s.center_fraction, static_cast<long long>(n), static_cast<long long>(n),
                static_cast<long long>(s.coils), s.snr, static_cast<long long>(s.train_images),
                static_cast<long long>(s.test_images), total_clock.seconds());

    // Baseline: zero-filled, same masks and noise.
    std::vector<Tensor<float>> truth, zf_images;
    const Tensor<float> zf = rss_image(test.kspace);  // zero-filled  // (B, H, W)
    for (int64_t t = 0; t < s.test_images; ++t) {
      truth.push_back(test.target.select(0, t).select(0, 0).contiguous());
      zf_images.push_back(zf.select(0, t).contiguous());
    }
    const Quality q_zf = evaluate(truth, zf_images);
    std::printf("zero-filled on %lld held-out images: SSIM %.4f, PSNR %.2f dB, NMSE %.4f\n",
                static_cast<long long>(s.test_images), q_zf.ssim, q_zf.psnr, q_zf.nmse);

    // Model.
    manual_seed(seed);
    models::VarNet<float> net(s.model);
    optim::Adam<float> opt(net.parameters(), {.lr = s.lr});
    std::printf("model: VarNet num_cascades %lld, chans %lld, pools %lld, sens_chans %lld, sens_pools %lld: %lld "
                "parameters; Adam lr %g, %lld steps of batch %lld, SSIM loss\n",
                static_cast<long long>(s.model.num_cascades), static_cast<long long>(s.model.chans),
                static_cast<long long>(s.model.pools), static_cast<long long>(s.model.sens_chans),
                static_cast<long long>(s.model.sens_pools), static_cast<long long>(net.num_parameters()), s.lr,
                static_cast<long long>(s.steps), static_cast<long long>(s.batch));

    data::RandomMaskFunc train_masks({.center_fractions = {s.center_fraction}, .accelerations = {s.acceleration},
                                      .seed = 5000 + seed});
    Generator train_gen(seed * 7919 + 17);
    RandomStream pick(train_gen);
    std::vector<std::pair<double, double>> curve, smooth;
    train::Progress progress({.total = s.steps, .print_every = std::max<int64_t>(1, s.steps / 10)}, std::cout);
    const examples::Stopwatch clock;
    double ema = 0;
    for (int64_t step = 1; step <= s.steps; ++step) {
      std::vector<const Scan*> chosen;
      for (int64_t b = 0; b < s.batch; ++b)
        chosen.push_back(&train_scans[static_cast<std::size_t>(pick.integer(s.train_images))]);
      const Batch batch = make_batch(chosen, train_masks, train_gen);
      const float lr_now = static_cast<float>(s.lr * 0.5 * (1 + std::cos(std::numbers::pi * (step - 1) / s.steps)));
      opt.set_lr(lr_now);
      opt.zero_grad();
      const Var<float> out = net(Var<float>(batch.kspace), batch.mask, batch.num_low_frequencies);  // (B, H, W)
      const Var<float> loss = losses::ssim_loss(unsqueeze(out, 1), Var<float>(batch.target), batch.max_value);
      loss.backward();
      opt.step();
      const double l = loss.item();
      ema = step == 1 ? l : 0.95 * ema + 0.05 * l;
      curve.emplace_back(static_cast<double>(step), l);
      smooth.emplace_back(static_cast<double>(step), ema);
      progress.update(step, {{"loss", ema}});
    }
    progress.finish();
    const double train_seconds = clock.seconds();

    // Held-out evaluation, one image at a time.
    net.eval();
    NoGradGuard no_grad;
    std::vector<Tensor<float>> net_images;
    for (int64_t t = 0; t < s.test_images; ++t) {
      const Tensor<float> k = test.kspace.narrow(0, t, 1).contiguous();
      const Tensor<bool> m = test.mask.narrow(0, t, 1).contiguous();
      net_images.push_back(net(Var<float>(k), m, test.num_low_frequencies).value().select(0, 0).contiguous());
    }
    const Quality q_net = evaluate(truth, net_images);
    std::printf("held-out mean over %lld images: SSIM zero-filled %.4f, VarNet %.4f; PSNR %.2f / %.2f dB; "
                "NMSE %.4f / %.4f\n",
                static_cast<long long>(s.test_images), q_zf.ssim, q_net.ssim, q_zf.psnr, q_net.psnr, q_zf.nmse,
                q_net.nmse);

    // Results: NIfTI stacks and figures.
    io::NiftiWriteOptions nifti;
    nifti.xyzt_units = 2;  // millimetres
    nifti.descrip = "voxnn VarNet 4x reconstructions";
    io::write_nifti(args.out / "varnet.nii.gz", stack_volume(net_images), nifti);
    nifti.descrip = "voxnn zero-filled 4x reconstructions";
    io::write_nifti(args.out / "zero_filled.nii.gz", stack_volume(zf_images), nifti);
    nifti.descrip = "voxnn simulated ground truth";
    io::write_nifti(args.out / "ground_truth.nii.gz", stack_volume(truth), nifti);

    {
      const int rows = static_cast<int>(std::min<int64_t>(3, s.test_images));
      const std::vector<std::string> names = {"ground truth", "zero-filled", "VarNet", "|error| zero-filled",
                                              "|error| VarNet"};
      std::vector<std::vector<viz::Image>> grid;
      std::vector<std::vector<std::string>> captions;
      for (int r = 0; r < rows; ++r) {
        const auto t = static_cast<std::size_t>(r);
        const double top = *std::max_element(truth[t].data(), truth[t].data() + n * n);
        const Tensor<float> e_zf = abs_error(truth[t], zf_images[t]), e_net = abs_error(truth[t], net_images[t]);
        const double e_top = 0.5 * *std::max_element(e_zf.data(), e_zf.data() + n * n);
        grid.push_back({panel(truth[t], {0, top}, "gray"), panel(zf_images[t], {0, top}, "gray"),
                        panel(net_images[t], {0, top}, "gray"), panel(e_zf, {0, e_top}, "viridis"),
                        panel(e_net, {0, e_top}, "viridis")});
        char a[64], b[64];
        std::snprintf(a, sizeof a, "SSIM %.3f", metrics::ssim(truth[t], zf_images[t]));
        std::snprintf(b, sizeof b, "SSIM %.3f", metrics::ssim(truth[t], net_images[t]));
        captions.push_back({"", a, b, "", ""});
      }
      const int gap = 6, ts = 2, head = 2 * gap + 9 * ts, pw = grid[0][0].width(), ph = grid[0][0].height();
      const int cw = std::max(pw, viz::font::text_width("|error| zero-filled", ts) + 2 * gap);
      const int width = gap + 5 * (cw + gap);
      const int row_h = ph + 9 * ts + 2 * gap;
      viz::Image fig(width, head + rows * row_h + gap, {0, 0, 0});
      for (int c = 0; c < 5; ++c)
        fig.draw_text(gap + c * (cw + gap) + (cw - viz::font::text_width(names[c], ts)) / 2, gap, names[c],
                      {255, 255, 255}, ts);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < 5; ++c) {
          const int x = gap + c * (cw + gap) + (cw - pw) / 2, y = head + r * row_h;
          fig.blit(grid[r][c], x, y);
          const std::string& cap = captions[r][c];
          if (!cap.empty())
            fig.draw_text(gap + c * (cw + gap) + (cw - viz::font::text_width(cap, ts)) / 2, y + ph + gap / 2, cap,
                          {255, 255, 255}, ts);
        }
      io::write_png(args.out / "reconstruction.png", fig.to_png());
    }
    io::write_png(args.out / "loss.png",
                  viz::plot({{"SSIM loss", curve}, {"moving average", smooth}},
                            {.title = "VarNet training: 1 - SSIM (fastMRI's SSIMLoss)", .y_label = "loss"}));

    examples::Result r;
    r.model = "VarNet";
    r.task = "4x multi-coil MRI reconstruction";
    r.metric = "SSIM";
    r.baseline = "zero-filled";
    r.baseline_value = q_zf.ssim;
    r.value = q_net.ssim;
    r.higher_is_better = true;
    r.train_seconds = train_seconds;
    r.figures = {"reconstruction.png", "loss.png"};
    char details[640];
    std::snprintf(details, sizeof details,
                  "PSNR zero-filled %.2f dB, VarNet %.2f dB; NMSE zero-filled %.4f, VarNet %.4f (mean over %lld held-out "
                  "%lldx%lld images, %lld coils, SNR %g, %gx random column masks with centre fraction %g); VarNet "
                  "num_cascades %lld, chans %lld, pools %lld, sens_chans %lld, sens_pools %lld (%lld parameters), %lld "
                  "steps of batch %lld, Adam lr %g",
                  q_zf.psnr, q_net.psnr, q_zf.nmse, q_net.nmse, static_cast<long long>(s.test_images),
                  static_cast<long long>(n), static_cast<long long>(n), static_cast<long long>(s.coils), s.snr,
                  s.acceleration, s.center_fraction, static_cast<long long>(s.model.num_cascades),
                  static_cast<long long>(s.model.chans), static_cast<long long>(s.model.pools),
                  static_cast<long long>(s.model.sens_chans), static_cast<long long>(s.model.sens_pools),
                  static_cast<long long>(net.num_parameters()), static_cast<long long>(s.steps),
                  static_cast<long long>(s.batch), s.lr);
    r.details = details;
    std::printf("total %.1f s\n", total_clock.seconds());
    return examples::finish(args, r);
  });
}
