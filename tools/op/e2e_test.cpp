// End-to-end test of `voxnn op` (ctest ops.cli_op_run): writes a safetensors file by hand, with an
// unpadded header and tensors at unaligned offsets, runs the built binary on it (conv1d in F64 with
// --backward, in F32 without), checks the output file against a direct loop, and checks that bad
// calls exit non-zero with a message naming the op and the problem.
//   voxnn_op_e2e PATH/TO/voxnn WORKDIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "voxnn/io/safetensors.hpp"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

struct Raw {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<double> values;
};

// The header is not padded and the tensors are packed in the given order, so most data offsets are
// not multiples of their element size.
void write_raw(const std::string& path, const std::vector<Raw>& tensors) {
  std::string header = "{";
  std::string data;
  for (const Raw& t : tensors) {
    std::string bytes;
    for (double v : t.values) {
      if (t.dtype == "F64") bytes.append(reinterpret_cast<const char*>(&v), 8);
      else if (t.dtype == "F32") {
        const float f = static_cast<float>(v);
        bytes.append(reinterpret_cast<const char*>(&f), 4);
      } else {
        const auto b = static_cast<uint8_t>(v);
        bytes.append(reinterpret_cast<const char*>(&b), 1);
      }
    }
    // appended piece by piece: GCC 12 warns (falsely, -Wrestrict) on "literal" + std::string chains
    if (header.size() > 1) header += ',';
    header.append("\"").append(t.name).append("\":{\"dtype\":\"").append(t.dtype).append("\",\"shape\":[");
    for (std::size_t i = 0; i < t.shape.size(); ++i) header.append(i ? "," : "").append(std::to_string(t.shape[i]));
    header.append("],\"data_offsets\":[").append(std::to_string(data.size())).append(",");
    header.append(std::to_string(data.size() + bytes.size())).append("]}");
    data += bytes;
  }
  header += "}";
  if (header.size() % 8 == 0) header += " ";  // keep the data buffer misaligned
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

// Runs the tool; returns its exit status and stderr.
int run(const std::string& tool, const std::string& args, const std::string& dir, std::string* err) {
  const std::string err_path = dir + "/stderr.txt";
  const std::string cmd = "\"" + tool + "\" " + args + " 2> \"" + err_path + "\"";
  const int status = std::system(cmd.c_str());
  std::ifstream in(err_path);
  std::stringstream text;
  text << in.rdbuf();
  if (err) *err = text.str();
  return status;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

int checks(const std::string& tool, const std::string& dir) {
  std::filesystem::create_directories(dir);

  // conv1d: input [1, 2, 5], weight [3, 2, 3], bias [3], padding 1, stride 2 -> out [1, 3, 3].
  const int64_t Cin = 2, Cout = 3, L = 5, K = 3, pad = 1, stride = 2, Lout = (L + 2 * pad - K) / stride + 1;
  std::vector<double> x(Cin * L), w(Cout * Cin * K), b(Cout), g(Cout * Lout);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.0 + static_cast<double>(i));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.5 * static_cast<double>(i)) - 0.2;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.1 * static_cast<double>(i) - 0.3;
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = 0.25 * static_cast<double>(i % 5) - 0.5;

  std::vector<double> out(Cout * Lout), gx(x.size(), 0.0), gw(w.size(), 0.0), gb(Cout, 0.0);
  for (int64_t o = 0; o < Cout; ++o)
    for (int64_t t = 0; t < Lout; ++t) {
      double acc = b[o];
      const double up = g[o * Lout + t];
      gb[o] += up;
      for (int64_t c = 0; c < Cin; ++c)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t i = t * stride + k - pad;
          if (i < 0 || i >= L) continue;
          acc += w[(o * Cin + c) * K + k] * x[c * L + i];
          gx[c * L + i] += up * w[(o * Cin + c) * K + k];
          gw[(o * Cin + c) * K + k] += up * x[c * L + i];
        }
      out[o * Lout + t] = acc;
    }

  const std::string in64 = dir + "/in64.safetensors", in32 = dir + "/in32.safetensors";
  const std::string out64 = dir + "/out64.safetensors", out32 = dir + "/out32.safetensors";
  // bias first (3 doubles: 24 bytes), then the input at offset 24 of a misaligned buffer, ...
  write_raw(in64, {{"bias", "F64", {Cout}, b}, {"gout", "F64", {1, Cout, Lout}, g}, {"input", "F64", {1, Cin, L}, x},
                   {"weight", "F64", {Cout, Cin, K}, w}});
  write_raw(in32, {{"bias", "F32", {Cout}, b}, {"input", "F32", {1, Cin, L}, x}, {"weight", "F32", {Cout, Cin, K}, w}});
  const std::string config = "'{\"padding\": [1], \"stride\": 2, \"dilation\": 1}'";

  std::string err;
  int status = run(tool, "op conv1d --config " + config + " --input \"" + in64 + "\" --output \"" + out64 + "\" --backward",
                   dir, &err);
  expect(status == 0, "conv1d F64 --backward exits 0 (stderr: " + err + ")");
  if (status == 0) {
    const voxnn::io::TensorFile f = voxnn::io::load_safetensors(out64);
    expect(f.size() == 4, "conv1d --backward writes out, grad_input, grad_weight, grad_bias");
    expect(f.entry("out").dtype == voxnn::io::DType::F64, "F64 in, F64 out");
    expect(f.entry("out").shape == voxnn::Shape({1, Cout, Lout}), "out has shape [1, 3, 3]");
    expect(max_diff(f.get<double>("out").to_vector(), out) < 1e-12, "conv1d out matches the direct loop");
    expect(max_diff(f.get<double>("grad_input").to_vector(), gx) < 1e-12, "grad_input matches");
    expect(max_diff(f.get<double>("grad_weight").to_vector(), gw) < 1e-12, "grad_weight matches");
    expect(max_diff(f.get<double>("grad_bias").to_vector(), gb) < 1e-12, "grad_bias matches");
  }
  const std::string cfg_path = dir + "/conv1d.json";
  std::ofstream(cfg_path) << "{\"padding\": 1, \"stride\": [2]}\n";
  status = run(tool, "op conv1d --config \"" + cfg_path + "\" --input \"" + in32 + "\" --output \"" + out32 + "\"", dir,
               &err);
  expect(status == 0, "conv1d F32 exits 0 (stderr: " + err + ")");
  if (status == 0) {
    const voxnn::io::TensorFile f = voxnn::io::load_safetensors(out32);
    expect(f.size() == 1 && f.entry("out").dtype == voxnn::io::DType::F32, "F32 in: only out, as F32");
    std::vector<double> got;
    for (float v : f.get<float>("out").to_vector()) got.push_back(v);
    expect(max_diff(got, out) < 1e-5, "conv1d F32 out matches the direct loop");
  }

  // Failures: exit status non-zero, the op and the culprit named on stderr.
  struct Bad {
    std::string args, must_contain;
  };
  const std::string io_args = " --input \"" + in64 + "\" --output \"" + dir + "/bad.safetensors\"";
  const Bad bad[] = {
      {"op conv9d --config '{}'" + io_args, "conv9d: unknown op"},
      {"op conv1d --config '{\"strides\": 2}'" + io_args, "conv1d: unknown config key 'strides'"},
      {"op conv1d --config '{\"stride\": \"two\"}'" + io_args, "conv1d: config 'stride' must be"},
      {"op conv1d --config '{\"stride\": 2}' --backward --input \"" + in32 + "\" --output \"" + dir + "/bad.safetensors\"",
       "conv1d: missing tensor 'gout'"},
      {"op max_pool1d --config '{}'" + io_args, "max_pool1d: unknown tensor"},
      {"op conv1d --config '{\"stride\": 2' " + io_args, "conv1d:"},
      {"op conv1d --config '{}' --input \"" + dir + "/absent.safetensors\" --output \"" + dir + "/bad.safetensors\"",
       "conv1d: safetensors: cannot open"},
  };
  for (const Bad& c : bad) {
    status = run(tool, c.args, dir, &err);
    expect(status != 0, "non-zero exit for: " + c.args);
    expect(err.find(c.must_contain) != std::string::npos,
           "stderr of `" + c.args + "` contains \"" + c.must_contain + "\"; got: " + err);
  }
  std::filesystem::remove(dir + "/bad.safetensors");

  if (failures == 0) std::printf("voxnn op end-to-end: all checks passed\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: voxnn_op_e2e PATH/TO/voxnn WORKDIR\n");
    return 2;
  }
  try {
    return checks(argv[1], argv[2]);
  } catch (const std::exception& e) {  // e.g. an output file that is missing or unreadable
    std::fprintf(stderr, "FAILED: %s\n", e.what());
    return 1;
  }
}
