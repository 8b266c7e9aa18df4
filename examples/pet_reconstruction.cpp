// Direct PET reconstruction with DeepPET (models::DeepPET): a sinogram in, an image out, against
// filtered back-projection (FBP) and MLEM on the same held-out scans.
//
// What it shows: DeepPET (Haggstrom et al., Medical Image Analysis 2019), trained on CPU on simulated
// scans of generated brain phantoms, reconstructs held-out scans with a lower relative RMSE than FBP
// and than MLEM stopped at a fixed 20 iterations, in a single forward pass. The paper reports 11% / 53%
// lower relative RMSE than OSEM / FBP (and 1.1 / 3.8 dB higher PSNR) after long GPU training on
// 291,000 XCAT-derived images; this example is a small CPU-sized version of that comparison, and it
// also prints MLEM at its best stopping point chosen with hindsight (on the test truth), which
// DeepPET beats only narrowly in quick mode (see the numbers below). DeepPET's images are smooth: it
// loses the small hot lesions that MLEM shows, so a lower RMSE here is not better lesion detection.
//
// Data (generated, fixed seeds): 2D random data::brain_phantom slices (skull, grey and white matter,
// ventricles, 0-3 hot lesions; grey 3-5, white 0.7-1.3, skull 0.3-0.7 and lesions 6-10 drawn per
// phantom) rendered at 128 x 128 and averaged 2 x 2 to 64 x 64 (partial volume), 2 mm pixels (a 128 mm
// field of view), with their mu-maps (0.096 / 0.172 per cm for tissue / bone at 511 keV). Each scan is
// data::simulate_pet on 64 angles over [0, pi) x 91 bins (ops::RadonGeometry defaults for 64 x 64):
// attenuation, a uniform background of 20% of the counts (randoms + scatter) and Poisson noise at
// 1e5 expected counts per 2D sinogram (a low-count slice, as in a short frame or a low-dose scan).
// Training: a pool of phantoms (quick 256, full 512) with a fresh Poisson draw
// every time one is used; test: 16 other phantoms (seeds 1000000 + ...), one fixed noise draw each.
// The truth each method estimates is data::PetData::scale x activity.
//
// Model: DeepPET{sinogram_size {64, 91}, image_size 64, in_channels 1, base_channels 8, num_levels 3
// (quick, 119,665 parameters) or 4 (full, 452,593)}. Its input is the corrected sinogram (y - r) / a
// (what FBP filters) over (level x 64), level = the mean pixel value implied by the data (every
// angle's corrected bins sum to the image total), so inputs are of order 1 at any count level; the
// target is the true image over the same level, and the output is multiplied back. Loss MSE, Adam lr
// 2e-3 with a cosine decay to 0, batch 8; quick 700 steps, full 2000.
//
// Baselines (fixed settings, the same counts, attenuation factors and background): FBP of the
// corrected sinogram with data::fbp's default pure ramp (Ram-Lak) filter, no window, cutoff at the
// Nyquist frequency; MLEM (data::mlem, uniform start) with 20 iterations, the reported baseline (it is
// the better of the two). Also printed: MLEM at 10 and 50 iterations and at its best iteration with
// hindsight (about 10-11 here: on this data MLEM's error is lowest near 10 iterations, then noise grows).
// Metrics, mean over the held-out images: relative RMSE ||x - ref|| / ||ref|| (the result) and PSNR
// (metrics::psnr, fastMRI's: data range = the true image's maximum).
//
// Numbers (2-core Zen 4 shared, 2026-11-22; see docs/models/deeppet.md), relative RMSE:
//   quick (--quick, 700 steps; OMP_NUM_THREADS=1: 43-45 s of CPU in all, 90 MB):
//     seed 1: DeepPET 0.2433, MLEM 20 it 0.2902, MLEM best (11 it) 0.2455, FBP 0.8031
//     seed 2: DeepPET 0.2363, MLEM 20 it 0.2859, MLEM best (11 it) 0.2420, FBP 0.7911
//     seed 3: DeepPET 0.2303, MLEM 20 it 0.2863, MLEM best (11 it) 0.2424, FBP 0.7970
//     (PSNR DeepPET / MLEM 20 / FBP: 23.04 / 21.37 / 12.53 dB for seed 1)
//   full (default, num_levels 4, 2000 steps, 512 training phantoms; 188 s of CPU on one thread, 126 MB):
//     seed 1: DeepPET 0.2010, MLEM 20 it 0.2909, MLEM best (11 it) 0.2459, FBP 0.8027; PSNR 24.83 /
//     21.34 / 12.53 dB
//
// Run: voxnn_pet_reconstruction [--quick] [--out DIR] [--seed N] [--steps N]
// Writes DIR/deeppet.nii.gz, mlem.nii.gz, fbp.nii.gz and truth.nii.gz (the 16 held-out images stacked
// as 16 x 64 x 64 volumes, 2 mm pixels, one image per 2 mm slice), reconstruction.png (phantom /
// DeepPET / MLEM / FBP for three held-out scans, each row from 0 to the phantom's maximum), loss.png
// and result.md. --data is not supported: the network is trained for this simulated scanner.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "common/example.hpp"
#include "voxnn/data/pet.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/metrics/image.hpp"
#include "voxnn/models/deeppet.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"
#include "voxnn/viz/colormap.hpp"
#include "voxnn/viz/font.hpp"
#include "voxnn/viz/image.hpp"
#include "voxnn/viz/plot.hpp"

using namespace voxnn;
namespace font = voxnn::viz::font;

namespace {

struct Settings {
  int64_t size = 64;             // images are size x size pixels
  int64_t angles = 64;           // sinogram angles over [0, pi); bins: the default, ceil(size * sqrt(2))
  double pixel_mm = 2.0;         // pixel size (attenuation path lengths and the NIfTI affine)
  double counts = 1e5;           // expected counts of each 2D sinogram (trues + background)
  double background = 0.2;       // share of the counts from a uniform randoms + scatter background
  int64_t train_phantoms = 512;  // training pool (fresh Poisson noise every time one is drawn)
  int64_t test_phantoms = 16;    // held out: other phantom seeds, one fixed noise realisation each
  int64_t base_channels = 8, num_levels = 4;
  int64_t steps = 2000, batch = 8;
  double lr = 2e-3;
  int64_t mlem_iterations = 20;  // the baseline's fixed iteration count
};

// One phantom: the activity (H, W) and its mu-map (1/cm at 511 keV), rendered at twice the resolution
// and averaged 2 x 2 (partial volume), with tissue activities drawn per phantom.
struct Phantom {
  Tensor<float> activity, mu;
};

Tensor<float> downsample2(const Tensor<float>& fine, int64_t n) {
  Tensor<float> out = zeros<float>({n, n});
  const float* f = fine.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      out.data()[i * n + j] =
          0.25f * (f[(2 * i) * 2 * n + 2 * j] + f[(2 * i) * 2 * n + 2 * j + 1] + f[(2 * i + 1) * 2 * n + 2 * j] +
                   f[(2 * i + 1) * 2 * n + 2 * j + 1]);
  return out;
}

Phantom make_phantom(int64_t n, uint64_t seed) {
  Generator gen(seed ^ 0x9e7'0000'0000'0000ull);
  RandomStream rng(gen);
  const double grey = rng.uniform(3.0, 5.0), white = rng.uniform(0.7, 1.3), skull = rng.uniform(0.3, 0.7);
  const int64_t lesions = rng.integer(4);
  const data::BrainPhantom<float> p = data::brain_phantom<float>({.size = {2 * n, 2 * n},
                                                                  .seed = seed,
                                                                  .num_lesions = lesions,
                                                                  .skull = skull,
                                                                  .grey_matter = grey,
                                                                  .white_matter = white});
  return {downsample2(p.image.contiguous(), n), downsample2(p.mu.contiguous(), n)};
}

// A phantom ready for simulation: its attenuation factors and noiseless expected counts.
struct Scan {
  Tensor<float> reference;  // scale * activity: what every reconstruction estimates (H, W)
  data::PetData<float> pet;
};

Scan simulate(const Phantom& p, const ops::RadonGeometry& g, const Settings& s, Generator& gen) {
  Scan scan;
  scan.pet = data::simulate_pet(p.activity, p.mu, g,
                                {.total_counts = s.counts, .background_fraction = s.background,
                                 .pixel_size = s.pixel_mm / 10.0},
                                gen);
  scan.reference = ops::mul(p.activity, scan.pet.scale.data()[0]);
  return scan;
}

// The corrected sinogram (y - r) / a that FBP reconstructs and DeepPET takes, and the image level
// it implies: every angle's bins sum to the image total (unit bins), so sum / (angles * H * W) is the
// mean pixel value, computed from the data alone.
struct Corrected {
  Tensor<float> sinogram;
  double level = 1;
};

Corrected corrected(const Tensor<float>& counts, const data::PetData<float>& pet, int64_t n) {
  Corrected c;
  c.sinogram = Tensor<float>(counts.shape());
  const float* y = counts.data();
  const float* a = pet.attenuation.data();
  const float* r = pet.background.data();
  double sum = 0;
  for (int64_t i = 0; i < counts.numel(); ++i) {
    c.sinogram.data()[i] = (y[i] - r[i]) / a[i];
    sum += c.sinogram.data()[i];
  }
  c.level = std::max(sum / static_cast<double>(counts.size(0) * n * n), 1e-6);
  return c;
}

// DeepPET's input: the corrected sinogram over (level * n), about the line integral of a mean pixel
// across the image, so that inputs are of order 1 whatever the count level.
void write_input(const Corrected& c, int64_t n, float* dst) {
  const float k = static_cast<float>(1.0 / (c.level * static_cast<double>(n)));
  for (int64_t i = 0; i < c.sinogram.numel(); ++i) dst[i] = k * c.sinogram.data()[i];
}

double relative_rmse(const Tensor<float>& x, const Tensor<float>& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = static_cast<double>(x.data()[i]) - ref.data()[i];
    num += d * d;
    den += static_cast<double>(ref.data()[i]) * ref.data()[i];
  }
  return std::sqrt(num / den);
}

// An (N, H, W) stack of images as a volume: 2 mm pixels, image i at z = 2 i mm (the test images are
// separate phantoms, stacked for viewing), rows towards posterior, columns towards the subject's right.
io::Volume<float> stack_volume(const std::vector<Tensor<float>>& images, double mm) {
  const int64_t N = static_cast<int64_t>(images.size()), n = images[0].size(0);
  Tensor<float> v({N, n, n});
  for (int64_t i = 0; i < N; ++i)
    std::copy(images[static_cast<std::size_t>(i)].data(), images[static_cast<std::size_t>(i)].data() + n * n,
              v.data() + i * n * n);
  const double c = (static_cast<double>(n) - 1) / 2, cz = (static_cast<double>(N) - 1) / 2;
  io::Affine a;
  a.m = {{{0, 0, mm, -mm * c}, {0, -mm, 0, mm * c}, {mm, 0, 0, -mm * cz}, {0, 0, 0, 1}}};
  return {v, a};
}

// Rows of test images, columns (truth, DeepPET, baselines): each tile gray from 0 to the row's true
// maximum, enlarged `zoom` times, named at the top, its relative RMSE underneath.
io::PngImage image_rows(const std::vector<std::string>& names, const std::vector<std::vector<Tensor<float>>>& rows,
                        int zoom) {
  const int n = static_cast<int>(rows[0][0].size(0)), tile = n * zoom, gap = 6, ts = 2;
  const int label_h = font::kLineHeight * ts + gap, cols = static_cast<int>(names.size());
  const int W = gap + cols * (tile + gap), H = label_h + static_cast<int>(rows.size()) * (tile + label_h);
  viz::Image img(W, H, {0, 0, 0});
  for (int c = 0; c < cols; ++c)
    img.draw_text(gap + c * (tile + gap) + (tile - font::text_width(names[static_cast<std::size_t>(c)], ts)) / 2, gap,
                  names[static_cast<std::size_t>(c)], {255, 255, 255}, ts);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Tensor<float>& truth = rows[r][0];
    const double vmax = *std::max_element(truth.data(), truth.data() + truth.numel());
    const int y0 = label_h + static_cast<int>(r) * (tile + label_h);
    for (int c = 0; c < cols; ++c) {
      const Tensor<float>& x = rows[r][static_cast<std::size_t>(c)];
      const int x0 = gap + c * (tile + gap);
      for (int i = 0; i < tile; ++i)
        for (int j = 0; j < tile; ++j)
          img.set(x0 + j, y0 + i, viz::gray(viz::window_fraction(x.data()[(i / zoom) * n + j / zoom], 0.0, vmax)));
      if (c > 0) {
        char text[32];
        std::snprintf(text, sizeof text, "rRMSE %.3f", relative_rmse(x, truth));
        img.draw_text(x0 + (tile - font::text_width(text, ts)) / 2, y0 + tile + gap / 2, text, {255, 255, 255}, ts);
      }
    }
  }
  return img.to_png();
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded("pet_reconstruction", [&] {
    const examples::Args args =
        examples::parse_args(argc, argv, "pet_reconstruction", "[--quick] [--out DIR] [--seed N] [--steps N]");
    if (args.data) throw Error("--data is not supported by this example (it trains and tests on generated phantoms)");
    Settings s;
    if (args.quick) {
      s.num_levels = 3;
      s.steps = 700;
      s.train_phantoms = 256;
    }
    if (args.steps > 0) s.steps = args.steps;
    const uint64_t seed = args.seed;
    const int64_t n = s.size;
    const examples::Stopwatch total_clock;

    const ops::RadonGeometry g = ops::radon_geometry(n, n, {.num_angles = s.angles});
    const int64_t A = g.num_angles(), B = g.num_bins;

    // Data: phantoms and their noiseless simulations; each test scan gets one fixed noise draw, each
    // training draw a fresh one.
    Generator noise_gen(seed * 104729 + 3);
    std::vector<Scan> train_scans, test_scans;
    for (int64_t t = 0; t < s.train_phantoms; ++t)
      train_scans.push_back(simulate(make_phantom(n, examples::training_sample_seed(seed, t)), g, s, noise_gen));
    for (int64_t t = 0; t < s.test_phantoms; ++t)
      test_scans.push_back(
          simulate(make_phantom(n, examples::held_out_sample_seed(seed, t)), g, s, noise_gen));
    std::printf("voxnn pet_reconstruction: DeepPET on %lld x %lld brain phantoms (%.0f mm pixels), %lld angles x %lld "
                "bins, %.0e expected counts per sinogram (%.0f%% background); %lld training phantoms, %lld held-out; "
                "data in %.1f s\n",
                static_cast<long long>(n), static_cast<long long>(n), s.pixel_mm, static_cast<long long>(A),
                static_cast<long long>(B), s.counts, 100 * s.background, static_cast<long long>(s.train_phantoms),
                static_cast<long long>(s.test_phantoms), total_clock.seconds());

    // Model.
    manual_seed(seed);
    models::DeepPET<float> net({.sinogram_size = {A, B},
                                .image_size = n,
                                .in_channels = 1,
                                .base_channels = s.base_channels,
                                .num_levels = s.num_levels});
    std::printf("model: DeepPET sinogram_size [%lld, %lld], image_size %lld, base_channels %lld, num_levels %lld, "
                "%lld parameters; MSE, Adam lr %.0e (cosine), %lld steps of batch %lld\n",
                static_cast<long long>(A), static_cast<long long>(B), static_cast<long long>(n),
                static_cast<long long>(s.base_channels), static_cast<long long>(s.num_levels),
                static_cast<long long>(net.num_parameters()), s.lr, static_cast<long long>(s.steps),
                static_cast<long long>(s.batch));
    optim::Adam<float> opt(net.parameters(), {.lr = s.lr});
    const double k = static_cast<double>(s.test_phantoms);
    auto reconstruct = [&](const Scan& sc) {  // eval mode, no autograd
      const Corrected c = corrected(sc.pet.counts, sc.pet, n);
      Tensor<float> x({1, 1, A, B});
      write_input(c, n, x.data());
      return ops::mul(net(Var<float>(x)).value().contiguous().reshape({n, n}), static_cast<float>(c.level));
    };

    // Training: MSE between DeepPET's output and the true image, both over the data's image level.
    const examples::Stopwatch clock;
    Generator train_gen(seed * 7919 + 17);
    RandomStream pick(train_gen);
    std::vector<std::pair<double, double>> curve;
    train::Progress progress({.total = s.steps, .print_every = std::max<int64_t>(1, s.steps / 10)}, std::cout);
    for (int64_t step = 1; step <= s.steps; ++step) {
      Tensor<float> x({s.batch, 1, A, B}), y({s.batch, 1, n, n});
      for (int64_t b = 0; b < s.batch; ++b) {
        const Scan& sc = train_scans[static_cast<std::size_t>(pick.integer(s.train_phantoms))];
        const Tensor<float> counts = data::poisson(sc.pet.expected, train_gen);
        const Corrected c = corrected(counts, sc.pet, n);
        write_input(c, n, x.data() + b * A * B);
        const float inv = static_cast<float>(1.0 / c.level);
        for (int64_t i = 0; i < n * n; ++i) y.data()[b * n * n + i] = inv * sc.reference.data()[i];
      }
      opt.set_lr(s.lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(step - 1) / static_cast<double>(s.steps))));
      opt.zero_grad();
      const Var<float> loss = losses::mse_loss(net(Var<float>(x)), Var<float>(y));
      loss.backward();
      opt.step();
      curve.emplace_back(static_cast<double>(step), loss.item());
      progress.update(step, {{"loss", loss.item()}});
    }
    progress.finish();
    const double train_seconds = clock.seconds();

    // Evaluation on the held-out scans: DeepPET, FBP (ramp filter) and MLEM (fixed iterations; the
    // iterations up to 50 are scored too, to report MLEM's best stopping point with hindsight).
    net.eval();
    NoGradGuard no_grad;
    constexpr int64_t kSweep = 50;
    double net_rmse = 0, net_psnr = 0, fbp_rmse = 0, fbp_psnr = 0, mlem_rmse = 0, mlem_psnr = 0;
    std::vector<double> mlem_curve(kSweep + 1, 0.0);
    std::vector<Tensor<float>> truth_images, net_images, fbp_images, mlem_images;
    const examples::Stopwatch eval_clock;
    double net_seconds = 0, fbp_seconds = 0, mlem_seconds = 0;
    for (const Scan& sc : test_scans) {
      const examples::Stopwatch t0;
      const Tensor<float> x = reconstruct(sc);
      net_seconds += t0.seconds();
      const examples::Stopwatch t1;
      const Tensor<float> f = data::fbp(corrected(sc.pet.counts, sc.pet, n).sinogram, g);
      fbp_seconds += t1.seconds();
      Tensor<float> m;
      data::EmOptions<float> em{.iterations = kSweep, .attenuation = sc.pet.attenuation, .background = sc.pet.background};
      em.callback = [&](int64_t it, const Tensor<float>& image) {
        mlem_curve[static_cast<std::size_t>(it)] += relative_rmse(image, sc.reference) / k;
        if (it == s.mlem_iterations) m = image.clone();
      };
      const examples::Stopwatch t2;
      data::mlem(sc.pet.counts, g, em);
      mlem_seconds += t2.seconds();
      net_rmse += relative_rmse(x, sc.reference) / k;
      fbp_rmse += relative_rmse(f, sc.reference) / k;
      mlem_rmse += relative_rmse(m, sc.reference) / k;
      net_psnr += metrics::psnr(sc.reference, x) / k;
      fbp_psnr += metrics::psnr(sc.reference, f) / k;
      mlem_psnr += metrics::psnr(sc.reference, m) / k;
      truth_images.push_back(sc.reference);
      net_images.push_back(x);
      fbp_images.push_back(f);
      mlem_images.push_back(m);
    }
    int64_t best = 1;
    for (int64_t it = 1; it <= kSweep; ++it)
      if (mlem_curve[static_cast<std::size_t>(it)] < mlem_curve[static_cast<std::size_t>(best)]) best = it;
    const double mlem_best = mlem_curve[static_cast<std::size_t>(best)];
    std::printf("held-out mean over %lld scans: relative RMSE FBP %.4f, MLEM %lld it %.4f, DeepPET %.4f; PSNR FBP "
                "%.2f, MLEM %.2f, DeepPET %.2f dB\n",
                static_cast<long long>(s.test_phantoms), fbp_rmse, static_cast<long long>(s.mlem_iterations),
                mlem_rmse, net_rmse, fbp_psnr, mlem_psnr, net_psnr);
    std::printf("MLEM relative RMSE by iterations: 10 %.4f, 20 %.4f, 50 %.4f; best with hindsight %lld it %.4f "
                "(DeepPET %s it)\n",
                mlem_curve[10], mlem_curve[20], mlem_curve[50], static_cast<long long>(best), mlem_best,
                net_rmse < mlem_best ? "beats" : "does not beat");
    std::printf("reconstruction time per image: DeepPET %.1f ms, FBP %.1f ms, MLEM %lld it %.1f ms (swept to %lld)\n",
                1e3 * net_seconds / k, 1e3 * fbp_seconds / k, static_cast<long long>(s.mlem_iterations),
                1e3 * mlem_seconds / k * static_cast<double>(s.mlem_iterations) / kSweep,
                static_cast<long long>(kSweep));

    // Results: the reconstructions as (N, H, W) volumes, the figures.
    io::NiftiWriteOptions nw;
    nw.xyzt_units = 2;  // millimetres
    nw.descrip = "voxnn DeepPET reconstructions of held-out phantoms";
    io::write_nifti(args.out / "deeppet.nii.gz", stack_volume(net_images, s.pixel_mm), nw);
    nw.descrip = "true activity (scaled to the counts) of held-out phantoms";
    io::write_nifti(args.out / "truth.nii.gz", stack_volume(truth_images, s.pixel_mm), nw);
    nw.descrip = "MLEM reconstructions of held-out phantoms";
    io::write_nifti(args.out / "mlem.nii.gz", stack_volume(mlem_images, s.pixel_mm), nw);
    nw.descrip = "FBP (ramp) reconstructions of held-out phantoms";
    io::write_nifti(args.out / "fbp.nii.gz", stack_volume(fbp_images, s.pixel_mm), nw);
    const std::string mlem_name = "MLEM " + std::to_string(s.mlem_iterations) + " it";
    std::vector<std::vector<Tensor<float>>> rows;
    for (std::size_t t = 0; t < 3 && t < test_scans.size(); ++t)
      rows.push_back({truth_images[t], net_images[t], mlem_images[t], fbp_images[t]});
    io::write_png(args.out / "reconstruction.png",
                  image_rows({"phantom", "DeepPET", mlem_name, "FBP ramp"}, rows, n <= 64 ? 3 : 2));
    io::write_png(args.out / "loss.png", viz::plot({{"MSE (image / data level)", curve}},
                                                   {.title = "DeepPET training", .log_y = true}));

    examples::Result r;
    r.model = "DeepPET";
    r.task = "PET reconstruction of generated brain phantoms";
    r.metric = "relative RMSE";
    const bool mlem_better = mlem_rmse <= fbp_rmse;
    r.baseline = mlem_better ? mlem_name : "FBP (ramp)";
    r.baseline_value = mlem_better ? mlem_rmse : fbp_rmse;
    r.value = net_rmse;
    r.higher_is_better = false;
    r.train_seconds = train_seconds;
    r.figures = {"reconstruction.png", "loss.png"};
    char details[900];
    std::snprintf(details, sizeof details,
                  "mean over %lld held-out %lldx%lld phantoms (%.0f mm pixels, %lld angles x %lld bins, %.0e expected "
                  "counts, %.0f%% background): relative RMSE DeepPET %.4f, %s %.4f, FBP (ramp, no window) %.4f, MLEM "
                  "at its best iteration with hindsight (%lld) %.4f; PSNR DeepPET %.2f dB, MLEM %.2f dB, FBP %.2f dB; "
                  "DeepPET base_channels %lld, num_levels %lld, %lld parameters, MSE, Adam lr %.0e cosine, %lld "
                  "steps of batch %lld over %lld phantoms with fresh Poisson noise; seed %llu; total %.1f s",
                  static_cast<long long>(s.test_phantoms), static_cast<long long>(n), static_cast<long long>(n),
                  s.pixel_mm, static_cast<long long>(A), static_cast<long long>(B), s.counts, 100 * s.background,
                  net_rmse, mlem_name.c_str(), mlem_rmse, fbp_rmse, static_cast<long long>(best), mlem_best, net_psnr,
                  mlem_psnr, fbp_psnr, static_cast<long long>(s.base_channels), static_cast<long long>(s.num_levels),
                  static_cast<long long>(net.num_parameters()), s.lr, static_cast<long long>(s.steps),
                  static_cast<long long>(s.batch), static_cast<long long>(s.train_phantoms),
                  static_cast<unsigned long long>(seed), total_clock.seconds());
    r.details = details;
    return examples::finish(args, r);
  });
}
