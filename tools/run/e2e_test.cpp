// End-to-end test of `voxnn run` (ctest models.cli_run): for the first reference-model case of every
// registered model (tests/fixtures/models/<model>.<variant>.safetensors), writes CONFIG, W and IN as
// separate files the way a user would have them, runs the built binary, and compares OUT with the
// reference's outputs; then checks that bad calls exit non-zero with a message naming the problem.
//   voxnn_run_e2e PATH/TO/voxnn WORKDIR
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "voxnn/io/safetensors.hpp"

namespace fs = std::filesystem;
using voxnn::io::TensorFile;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

// Runs the tool; returns its exit status and stderr.
int run(const std::string& tool, const std::string& args, const fs::path& dir, std::string* err = nullptr) {
  const fs::path err_path = dir / "stderr.txt";
  const std::string cmd = "\"" + tool + "\" " + args + " 2> \"" + err_path.string() + "\"";
  const int status = std::system(cmd.c_str());
  std::ifstream in(err_path);
  std::stringstream text;
  text << in.rdbuf();
  if (err) *err = text.str();
  return status;
}

TensorFile subset(const TensorFile& file, const std::string& prefix) {
  TensorFile out;
  for (const auto& e : file.entries())
    if (e.name.starts_with(prefix)) {
      voxnn::io::TensorEntry copy = e;
      copy.name = e.name.substr(prefix.size());
      out.add(std::move(copy));
    }
  return out;
}

// appended piece by piece: GCC 12 warns (falsely, -Wrestrict) on "literal" + std::string chains
std::string quoted(const fs::path& p) {
  std::string out = "\"";
  out.append(p.string()).append("\"");
  return out;
}

// Runs one case through the binary and compares every output with the case's float32 tolerance.
void check_case(const std::string& tool, const fs::path& case_path, const fs::path& work) {
  const std::string name = case_path.stem().string();
  const TensorFile c = voxnn::io::load_safetensors(case_path);
  const std::string model = c.metadata.at("model");
  const fs::path dir = work / name;
  fs::create_directories(dir);
  {
    std::ofstream(dir / "config.json") << c.metadata.at("config");
  }
  voxnn::io::save_safetensors(dir / "weights.safetensors", subset(c, "weights."));
  voxnn::io::save_safetensors(dir / "input.safetensors", subset(c, "input."));
  std::string err;
  const int status = run(tool,
                         "run " + model + " --config " + quoted(dir / "config.json") + " --weights " +
                             quoted(dir / "weights.safetensors") + " --input " + quoted(dir / "input.safetensors") +
                             " --output " + quoted(dir / "out.safetensors"),
                         dir, &err);
  expect(status == 0, name + ": voxnn run exited with " + std::to_string(status) + ": " + err);
  if (status != 0) return;
  const TensorFile out = voxnn::io::load_safetensors(dir / "out.safetensors");
  for (const auto& e : c.entries()) {
    if (!e.name.starts_with("expected.")) continue;
    const std::string output = e.name.substr(9);
    if (!out.contains(output)) {
      expect(false, name + ": OUT lacks '" + output + "'");
      continue;
    }
    const std::vector<double> want = c.get<double>(e.name).to_vector();
    const std::vector<double> got = out.get<double>(output).to_vector();
    const double tol = c.get<double>("tol." + output).item();
    double worst = want.size() == got.size() ? 0 : INFINITY;
    for (std::size_t i = 0; i < std::min(want.size(), got.size()); ++i)
      if (!(std::isnan(want[i]) && std::isnan(got[i]))) worst = std::max(worst, std::abs(want[i] - got[i]));
    expect(worst <= tol, name + ": output '" + output + "' differs by " + std::to_string(worst) + " (tol " +
                             std::to_string(tol) + ")");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: voxnn_run_e2e VOXNN FIXTURES_DIR WORKDIR\n");
    return 2;
  }
  const std::string tool = argv[1];
  const fs::path cases = fs::path(argv[2]) / "models", work = argv[3];
  fs::create_directories(work);

  // The registered models, from `voxnn run --list`.
  const int listed = std::system(("\"" + tool + "\" run --list > " + quoted(work / "models.txt")).c_str());
  expect(listed == 0, "voxnn run --list failed");
  std::vector<std::string> models;
  {
    std::ifstream in(work / "models.txt");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) models.push_back(line);
  }
  expect(!models.empty(), "voxnn run --list printed no models");

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(cases))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const std::string& model : models) {
    const auto first = std::find_if(files.begin(), files.end(),
                                    [&](const fs::path& p) { return p.stem().string().starts_with(model + "."); });
    expect(first != files.end(), model + ": no case in " + cases.string());
    if (first != files.end()) check_case(tool, *first, work);
  }

  // Bad calls: a message and a non-zero exit, never a crash.
  std::string err;
  expect(run(tool, "run no_such_model --weights a --input b --output c", work, &err) != 0 &&
             err.find("unknown model") != std::string::npos,
         "an unknown model is reported: " + err);
  if (!models.empty()) {
    const std::string& m = models.front();
    expect(run(tool, "run " + m + " --weights " + quoted(work / "missing.safetensors") + " --input " +
                         quoted(work / "missing.safetensors") + " --output " + quoted(work / "o.safetensors"),
               work, &err) != 0 &&
               err.find("missing.safetensors") != std::string::npos,
           "a missing weights file is reported: " + err);
    expect(run(tool, "run " + m + " --config '{not json' --weights a --input b --output c", work, &err) != 0 &&
               err.find(m + ": ") != std::string::npos,
           "invalid JSON is reported: " + err);
    expect(run(tool, "run " + m + " --weights a", work, &err) != 0 && err.find("--input is missing") != std::string::npos,
           "a missing --input is reported: " + err);
  }
  if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
  else std::printf("voxnn run: %zu models checked end to end\n", models.size());
  return failures ? 1 : 0;
}
