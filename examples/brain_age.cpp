// Brain age with the 2D-slice set network (models::SliceSetNet, Gupta et al., ISBI 2021): attention
// against mean aggregation of the slice encodings, both against the mean-age predictor.
//
// What it shows: one shared 2D CNN encodes every sagittal slice of a volume, the slice encodings are
// pooled as a set (a learned attention query, or their plain mean) and a small head regresses the age in
// years. Two networks with the same settings, seed and batches, differing only in agg_fn, learn the age
// of generated brain phantoms from their anatomy alone, on CPU in seconds.
//
// Data (generated, fixed seeds): each subject is a random data::brain_phantom (head shape and pose,
// skull, white-matter ellipsoids, two ventricles; no lesions) rendered at twice the output resolution,
// aged, then averaged 2x2x2 (partial volume). The hidden age is uniform in [45, 80] years; the subject's
// biological age b = (age - 45) / 35 + N(0, 0.07^2) (individual ageing, about 2.5 years) drives three
// atrophy patterns, on the fine grid with Euclidean distance transforms (metrics::distance_transform_edt):
// the ventricles dilate by 0.3 + 2.7 b fine voxels, the cortex loses a rim of 0.6 + 1.8 b fine voxels
// to CSF (the sulci and extra-axial space widen as the brain shrinks inside a fixed skull), and white
// matter loses 0.3 + 1.2 b fine voxels to grey matter; grey-matter T1 intensity rises by 0.04 b (less
// grey/white contrast). The phantom's own anatomy varies more than that: head size +-5 %, ventricle size
// +-30 %, white-matter layout, so no single voxel or structure tells the age. T1-like intensities per
// subject: white matter 1, grey matter 0.55-0.68, CSF 0.10-0.22, skull 0.30-0.50; Gaussian noise with
// sigma 0.02-0.05 and an arbitrary gain (x 0.5-2). Each volume is z-scored as the reference's input
// (mean 0, sd 1 over the volume). Volumes are 32^3 with a 192 mm field of view (6 mm voxels); the
// network reads the (z, x, y) array with slice_dim 2, so its 32 slices are sagittal, as the
// reference's default slicing of MNI volumes. Training subjects come from seeds derived from --seed;
// the held-out test subjects from seeds 1000000 + ... that training never sees.
//
// Models: SliceSetNet{agg_fn "attention" (attn_num_heads 1, attn_dim 32) or "mean", slice_dim 2,
// num_slices 32, encoder_channels {8, 16, 32, 32} (quick) or {16, 32, 64, 64} (full) (4 blocks: 32 x 32
// slices -> 2 x 2 -> average pool -> 1 x 1), initialization "default" (PyTorch's init, regressor bias
// 62.68 as the reference), same seed}. Loss MSE in years^2, Adam lr 1e-3 (the paper's 1e-4 needs its
// hundreds of epochs) divided by 10 for the last fifth of the steps, batch 4 with one subject from each
// age quartile of the training set, random left-right flips; both networks see the same batches. Quick:
// 400 steps on 96 training subjects; full: 2000 steps on 256. Full mode also trains the slice LSTM
// (models::SliceLstm, same encoder) for the details line.
// Why these choices: on so short a budget the networks first sit on a plateau predicting about the mean
// age (the slice encodings vary little between subjects at initialisation, so a batch's gradient is
// dominated by its mean error), then learn fast. Age-stratified batches (a batch's mean age varies
// little), PyTorch's default init (the reference's "custom" N(0, 0.01) Linear layers lengthen the
// plateau) and lr 1e-3 (3e-3 and 1e-2 left some seeds' attention networks on it) make it end within
// about 100-250 steps for every seed tried.
//
// Metric: mean absolute error (MAE) in years on the held-out subjects (48 quick, 96 full). Baseline
// (fixed): the mean-age predictor, which predicts the training subjects' mean age for everyone. The
// report's value is the attention network's MAE; the mean-aggregation network's (and in full mode the
// LSTM's) are in details.
//
// Numbers (held-out MAE in years; 2-core Zen 4, 2026-11-22; see docs/models/slice_set_net.md):
//   quick (--quick), baseline / attention / mean: seed 1 8.851 / 2.613 / 2.802, seed 2 8.402 / 2.771 /
//     3.009, seed 3 9.022 / 3.586 / 3.659; 40-41 s wall on 2 idle threads, 110 MB
//   full (default), seed 1: 9.073 / 2.834 / 2.967, SliceLstm 8.946 (it stays on the mean-age plateau);
//     21 min on one thread beside other jobs, 231 MB
//
// Run: voxnn_brain_age [--quick] [--out DIR] [--seed N] [--steps N]
// Writes DIR/young.nii.gz and old.nii.gz (the youngest and the oldest held-out phantoms, z-scored, as the
// networks see them), age_scatter.png (predicted against true age, both aggregations, the baseline),
// loss.png (both training curves), phantoms.png (young against old, three planes), attention.png (the
// mean attention weight per sagittal slice, young and old halves of the test set) and result.md.
// --data is not supported: a network trained on 6 mm phantoms says nothing about a real T1 scan.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/example.hpp"
#include "common/phantom_grid.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/metrics/distance.hpp"
#include "voxnn/models/slice_lstm.hpp"
#include "voxnn/models/slice_set_net.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"
#include "voxnn/viz/montage.hpp"
#include "voxnn/viz/plot.hpp"

using namespace voxnn;

namespace {

struct Settings {
  int64_t size = 32;  // volumes are size^3
  std::vector<int64_t> channels = {16, 32, 64, 64};
  int64_t steps = 2000;
  int64_t batch = 4;
  int64_t train_subjects = 256;
  int64_t test_subjects = 96;
  double lr = 1e-3;
  bool lstm = true;  // also train SliceLstm (details)
};

constexpr double kAgeMin = 45, kAgeMax = 80;

struct Subject {
  Tensor<float> image;  // (n, n, n) as acquired, (z, y, x)
  Tensor<float> input;  // (1, n, n, n): z-scored, (z, x, y) for slice_dim 2 = sagittal slices
  Tensor<float> flipped;  // the same flipped left-right (augmentation)
  double age = 0;
};

// The network's input: the volume z-scored and transposed to (1, z, x, y).
Tensor<float> normalised(const Tensor<float>& image) {
  const std::vector<float> v = image.contiguous().to_vector();
  double s = 0, ss = 0;
  for (float x : v) s += x;
  const double mean = s / static_cast<double>(v.size());
  for (float x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(v.size())) + 1e-8;
  const Shape shape = image.shape();
  return ops::map<float>(image.contiguous(), [=](float x) { return static_cast<float>((x - mean) / sd); })
      .permute({0, 2, 1})
      .contiguous()
      .reshape({1, shape[0], shape[2], shape[1]});
}

// (1, z, x, y) mirrored along x.
Tensor<float> flip_x(const Tensor<float>& t) {
  const Tensor<float> in = t.contiguous();
  const int64_t a = in.size(1), b = in.size(2), c = in.size(3);
  Tensor<float> out = zeros<float>(in.shape());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k) out.data()[(i * b + j) * c + k] = in.data()[(i * b + (b - 1 - j)) * c + k];
  return out;
}

Subject make_subject(int64_t n, uint64_t seed) {
  Generator gen(seed ^ 0xb7a1'0000'0000'0000ull);
  RandomStream rng(gen);
  Subject sub;
  sub.age = rng.uniform(kAgeMin, kAgeMax);
  const double bio = (sub.age - kAgeMin) / (kAgeMax - kAgeMin) + 0.07 * rng.normal();
  const double grey = rng.uniform(0.55, 0.68) + 0.04 * bio, csf = rng.uniform(0.10, 0.22),
               skull = rng.uniform(0.30, 0.50), sigma = rng.uniform(0.02, 0.05),
               gain = std::exp(rng.uniform(std::log(0.5), std::log(2.0)));

  // The young anatomy on the fine grid, then atrophy by distances (in fine voxels).
  const int64_t m = 2 * n, V = m * m * m;
  const Tensor<int64_t> labels =
      data::brain_phantom<float>({.size = {m, m, m}, .seed = seed, .num_lesions = 0}).labels.contiguous();
  const int64_t* L = labels.data();
  Tensor<uint8_t> brain = zeros<uint8_t>({m, m, m}), not_ventricle = zeros<uint8_t>({m, m, m}),
                  white = zeros<uint8_t>({m, m, m});
  for (int64_t v = 0; v < V; ++v) {
    brain.data()[v] = L[v] == data::kGreyMatter || L[v] == data::kWhiteMatter || L[v] == data::kCsf;
    not_ventricle.data()[v] = L[v] != data::kCsf;
    white.data()[v] = L[v] == data::kWhiteMatter;
  }
  const Tensor<double> to_outside = metrics::distance_transform_edt(brain);
  const Tensor<double> to_ventricle = metrics::distance_transform_edt(not_ventricle);
  const Tensor<double> to_grey = metrics::distance_transform_edt(white);
  const double cortex_loss = 0.6 + 1.8 * bio, ventricle_growth = 0.3 + 2.7 * bio, white_loss = 0.3 + 1.2 * bio;
  std::vector<float> fine(static_cast<std::size_t>(V));
  for (int64_t v = 0; v < V; ++v) {
    int64_t l = L[v];
    if (brain.data()[v]) {
      if (to_outside.data()[v] <= cortex_loss || to_ventricle.data()[v] <= ventricle_growth) l = data::kCsf;
      else if (l == data::kWhiteMatter && to_grey.data()[v] <= white_loss) l = data::kGreyMatter;
    }
    fine[static_cast<std::size_t>(v)] = static_cast<float>(l == data::kSkull         ? skull
                                                           : l == data::kGreyMatter  ? grey
                                                           : l == data::kWhiteMatter ? 1.0
                                                           : l == data::kCsf         ? csf
                                                                                     : 0.0);
  }

  // Partial volume (2x2x2 means), noise and gain.
  sub.image = examples::average_2x2x2(fine.data(), n);
  float* p = sub.image.data();
  for (int64_t v = 0; v < n * n * n; ++v) p[v] = static_cast<float>(gain * (p[v] + sigma * rng.normal()));
  sub.input = normalised(sub.image);
  sub.flipped = flip_x(sub.input);
  return sub;
}

// The network's (1, z, x, y) input back in (z, y, x) order, as a volume with the phantom's affine.
io::Volume<float> input_volume(const Tensor<float>& input) {
  const int64_t n = input.size(1);
  return {input.reshape({n, n, n}).permute({0, 2, 1}).contiguous(), examples::phantom_affine(n)};
}

std::string channels_string(const std::vector<int64_t>& f) {
  std::string out = "{";
  for (std::size_t i = 0; i < f.size(); ++i) out += (i ? ", " : "") + std::to_string(f[i]);
  return out + "}";
}

struct Trained {
  std::string name;
  std::vector<std::pair<double, double>> curve;  // step, moving average of the MSE
  std::vector<double> predictions;               // per test subject
  std::vector<std::vector<double>> attention;    // per test subject, per slice (attention only)
  double mae = 0;
  double seconds = 0;
  int64_t parameters = 0;
};

// Trains `net` (forward(x (B, 1, n, n, n)) -> (B, 1)) on the training set with the example's schedule. Each
// batch takes one subject from each of `batch` age strata (the training set sorted by age and cut into
// equal parts): the batch's mean age then varies little, so the gradient is not dominated by it while
// the network still predicts about the mean age for everyone. The batches depend on `seed` only, so two
// networks trained with one seed see the same data.
template <class Net>
void fit(Net& net, Trained& t, const std::vector<Subject>& train_set, const Settings& s, uint64_t seed) {
  optim::Adam<float> opt(net.parameters(), {.lr = s.lr});
  std::vector<const Subject*> by_age;
  for (const Subject& sub : train_set) by_age.push_back(&sub);
  std::stable_sort(by_age.begin(), by_age.end(), [](const Subject* a, const Subject* b) { return a->age < b->age; });
  const int64_t stratum = static_cast<int64_t>(by_age.size()) / s.batch;
  Generator gen(seed * 7919 + 17);
  RandomStream pick(gen);
  const examples::Stopwatch clock;
  train::Progress progress(
      {.total = s.steps, .label = t.name + " step", .print_every = std::max<int64_t>(1, s.steps / 8)}, std::cout);
  double ema = 0;
  for (int64_t step = 1; step <= s.steps; ++step) {
    if (step == s.steps - s.steps / 5 + 1) opt.set_lr(s.lr / 10);
    std::vector<Tensor<float>> xs;
    std::vector<float> ys;
    for (int64_t b = 0; b < s.batch; ++b) {
      const Subject& sub = *by_age[static_cast<std::size_t>(b * stratum + pick.integer(stratum))];
      xs.push_back((pick.bernoulli(0.5) ? sub.flipped : sub.input).unsqueeze(0));
      ys.push_back(static_cast<float>(sub.age));
    }
    const Var<float> x(ops::cat(xs, 0));
    const Var<float> y(from_vector<float>(ys, Shape{s.batch, 1}));
    opt.zero_grad();
    const Var<float> loss = losses::mse_loss(net.forward(x), y);
    loss.backward();
    opt.step();
    const double l = loss.item();
    ema = step == 1 ? l : 0.95 * ema + 0.05 * l;
    t.curve.emplace_back(static_cast<double>(step), ema);
    progress.update(step, {{"mse", ema}});
  }
  progress.finish();
  t.seconds = clock.seconds();
  t.parameters = net.num_parameters();
}

double mae_of(const std::vector<double>& pred, const std::vector<Subject>& test) {
  double e = 0;
  for (std::size_t i = 0; i < test.size(); ++i) e += std::abs(pred[i] - test[i].age);
  return e / static_cast<double>(test.size());
}

// NaN between points: viz::plot draws isolated points as dots.
std::vector<std::pair<double, double>> dots(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::pair<double, double>> out;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < x.size(); ++i) {
    out.emplace_back(x[i], y[i]);
    out.emplace_back(nan, nan);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded("brain_age", [&] {
    const examples::Args args =
        examples::parse_args(argc, argv, "brain_age", "[--quick] [--out DIR] [--seed N] [--steps N]");
    if (args.data) throw Error("--data is not supported by this example (it trains and tests on generated phantoms)");
    Settings s;
    if (args.quick) {
      s.steps = 400;
      s.channels = {8, 16, 32, 32};
      s.train_subjects = 96;
      s.test_subjects = 48;
      s.lstm = false;
    }
    if (args.steps > 0) s.steps = args.steps;
    const uint64_t seed = args.seed;
    const int64_t n = s.size;
    const examples::Stopwatch total_clock;

    // Data.
    std::vector<Subject> train_set, test_set;
    for (int64_t t = 0; t < s.train_subjects; ++t)
      train_set.push_back(make_subject(n, examples::training_sample_seed(seed, t)));
    for (int64_t t = 0; t < s.test_subjects; ++t)
      test_set.push_back(make_subject(n, examples::held_out_sample_seed(seed, t)));
    double mean_age = 0;
    for (const Subject& t : train_set) mean_age += t.age;
    mean_age /= static_cast<double>(train_set.size());
    const double baseline_mae = mae_of(std::vector<double>(test_set.size(), mean_age), test_set);
    std::printf("voxnn brain_age: SliceSetNet, age of generated %lld^3 brain phantoms (ages %.0f-%.0f, atrophy with "
                "age); %lld training subjects (mean age %.2f), %lld held-out; data in %.1f s\n",
                static_cast<long long>(n), kAgeMin, kAgeMax, static_cast<long long>(s.train_subjects), mean_age,
                static_cast<long long>(s.test_subjects), total_clock.seconds());
    std::printf("baseline: mean-age predictor (%.2f years for everyone), held-out MAE %.3f years\n", mean_age,
                baseline_mae);

    // The two set networks: same options, seed and batches; only the aggregation differs.
    std::vector<Trained> runs;
    for (const std::string agg : {"attention", "mean"}) {
      manual_seed(seed);
      models::SliceSetNet<float> net({.agg_fn = agg,
                                      .slice_dim = 2,
                                      .initialization = "default",
                                      .encoder_channels = s.channels,
                                      .num_slices = n,
                                      .seed = seed});
      Trained t;
      t.name = agg;
      std::printf("model: SliceSetNet agg_fn %s, encoder_channels %s, %lld parameters; %lld steps of batch %lld, "
                  "initialization default, Adam lr %.0e\n",
                  agg.c_str(), channels_string(s.channels).c_str(), static_cast<long long>(net.num_parameters()),
                  static_cast<long long>(s.steps), static_cast<long long>(s.batch), s.lr);
      fit(net, t, train_set, s, seed);
      net.eval();
      NoGradGuard no_grad;
      for (const Subject& sub : test_set) {
        const auto out = net.predict(Var<float>(sub.input.unsqueeze(0)));
        t.predictions.push_back(out.y_pred.item());
        if (out.attention.defined()) {
          const std::vector<float> w = out.attention.value().contiguous().to_vector();
          t.attention.emplace_back(w.begin(), w.end());
        }
      }
      t.mae = mae_of(t.predictions, test_set);
      std::printf("SliceSetNet (%s): held-out MAE %.3f years (baseline %.3f), trained in %.1f s\n", agg.c_str(), t.mae,
                  baseline_mae, t.seconds);
      runs.push_back(std::move(t));
    }
    std::optional<Trained> lstm;
    if (s.lstm) {
      manual_seed(seed);
      models::SliceLstm<float> net({.slice_dim = 2, .encoder_channels = s.channels, .seed = seed});
      std::printf("model: SliceLstm lstm_feat_dim 2, lstm_latent_dim 128, encoder_channels %s, %lld parameters\n",
                  channels_string(s.channels).c_str(), static_cast<long long>(net.num_parameters()));
      Trained t;
      t.name = "lstm";
      fit(net, t, train_set, s, seed);
      net.eval();
      NoGradGuard no_grad;
      for (const Subject& sub : test_set) t.predictions.push_back(net.forward(Var<float>(sub.input.unsqueeze(0))).item());
      t.mae = mae_of(t.predictions, test_set);
      std::printf("SliceLstm: held-out MAE %.3f years, trained in %.1f s\n", t.mae, t.seconds);
      lstm = std::move(t);
    }
    const Trained& attention = runs[0];
    const Trained& mean = runs[1];

    // Results: the youngest and the oldest test subjects as NIfTI and montage, and the figures.
    std::size_t young = 0, old = 0;
    for (std::size_t i = 0; i < test_set.size(); ++i) {
      if (test_set[i].age < test_set[young].age) young = i;
      if (test_set[i].age > test_set[old].age) old = i;
    }
    io::NiftiWriteOptions nifti;
    nifti.xyzt_units = 2;  // millimetres
    char descrip[80];
    std::snprintf(descrip, sizeof descrip, "voxnn brain_age phantom, age %.1f, z-scored", test_set[young].age);
    nifti.descrip = descrip;
    io::write_nifti(args.out / "young.nii.gz", input_volume(test_set[young].input), nifti);
    std::snprintf(descrip, sizeof descrip, "voxnn brain_age phantom, age %.1f, z-scored", test_set[old].age);
    nifti.descrip = descrip;
    io::write_nifti(args.out / "old.nii.gz", input_volume(test_set[old].input), nifti);
    char young_name[64], old_name[64];
    std::snprintf(young_name, sizeof young_name, "%.0f y, pred %.0f", test_set[young].age, attention.predictions[young]);
    std::snprintf(old_name, sizeof old_name, "%.0f y, pred %.0f", test_set[old].age, attention.predictions[old]);
    viz::MontageOptions mo;
    mo.shared_window = true;
    mo.title = "youngest, oldest held-out (attention)";
    io::write_png(args.out / "phantoms.png",
                  viz::comparison<float>({{young_name, input_volume(test_set[young].input)},
                                          {old_name, input_volume(test_set[old].input)}},
                                         mo));

    std::vector<double> truth;
    for (const Subject& t : test_set) truth.push_back(t.age);
    std::vector<viz::Series> scatter = {
        {"true age", {{kAgeMin, kAgeMin}, {kAgeMax, kAgeMax}}},
        {"mean-age baseline", {{kAgeMin, mean_age}, {kAgeMax, mean_age}}},
        {"attention", dots(truth, attention.predictions)},
        {"mean", dots(truth, mean.predictions)}};
    io::write_png(args.out / "age_scatter.png",
                  viz::plot(scatter, {.title = "held-out subjects: predicted against true age",
                                      .x_label = "true age (years)",
                                      .y_label = "predicted age (years)"}));
    std::vector<viz::Series> curves = {{"attention", attention.curve}, {"mean", mean.curve}};
    if (lstm) curves.push_back({"LSTM", lstm->curve});
    io::write_png(args.out / "loss.png", viz::plot(curves, {.title = "training MSE (years^2, moving average)",
                                                            .y_label = "MSE",
                                                            .log_y = true}));
    std::vector<std::string> figures = {"age_scatter.png", "loss.png", "phantoms.png"};
    if (!attention.attention.empty()) {
      // mean attention per slice over the younger and the older half of the test set
      std::vector<std::size_t> order(test_set.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return test_set[a].age < test_set[b].age; });
      const std::size_t slices = attention.attention[0].size(), half = order.size() / 2;
      std::vector<std::pair<double, double>> lo(slices), hi(slices);
      for (std::size_t k = 0; k < slices; ++k) {
        double a = 0, b = 0;
        for (std::size_t i = 0; i < half; ++i) a += attention.attention[order[i]][k];
        for (std::size_t i = half; i < order.size(); ++i) b += attention.attention[order[i]][k];
        lo[k] = {static_cast<double>(k), a / static_cast<double>(half)};
        hi[k] = {static_cast<double>(k), b / static_cast<double>(order.size() - half)};
      }
      io::write_png(args.out / "attention.png",
                    viz::plot({{"younger half", lo}, {"older half", hi}},
                              {.title = "mean attention per sagittal slice (held-out)",
                               .x_label = "slice",
                               .y_label = "weight"}));
      figures.push_back("attention.png");
    }

    examples::Result r;
    r.model = "SliceSetNet (attention)";
    r.task = "brain age of generated brain phantoms";
    r.metric = "MAE (years)";
    r.baseline = "mean-age predictor";
    r.baseline_value = baseline_mae;
    r.value = attention.mae;
    r.higher_is_better = false;
    r.train_seconds = attention.seconds;
    r.figures = figures;
    char lstm_mae[48] = "";
    if (lstm) std::snprintf(lstm_mae, sizeof lstm_mae, ", SliceLstm %.3f", lstm->mae);
    char details[900];
    std::snprintf(details, sizeof details,
                  "held-out MAE in years on %lld %lld^3 phantoms (ages %.0f-%.0f): mean-age predictor %.3f, "
                  "SliceSetNet attention %.3f, SliceSetNet mean %.3f%s (attention %s mean aggregation). "
                  "Both: encoder_channels %s, %lld / %lld parameters, 32 sagittal slices, initialization default, "
                  "MSE, Adam lr %.0e (/10 for the last fifth), %lld steps of batch %lld (one subject per age "
                  "stratum) from %lld subjects with left-right flips, trained in %.1f / %.1f s; seed %llu; total "
                  "%.1f s",
                  static_cast<long long>(s.test_subjects), static_cast<long long>(n), kAgeMin, kAgeMax, baseline_mae,
                  attention.mae, mean.mae,
                  lstm_mae,
                  attention.mae < mean.mae ? "beats" : "does not beat", channels_string(s.channels).c_str(),
                  static_cast<long long>(attention.parameters), static_cast<long long>(mean.parameters), s.lr,
                  static_cast<long long>(s.steps), static_cast<long long>(s.batch),
                  static_cast<long long>(s.train_subjects), attention.seconds, mean.seconds,
                  static_cast<unsigned long long>(seed), total_clock.seconds());
    r.details = details;
    std::printf("%s\n", details);
    return examples::finish(args, r);
  });
}
