#pragma once
// CSV training logs: CsvLog writes one row per call (step, loss, learning rate, a phase name, ...),
// takes its header from the first row's keys, quotes fields as RFC 4180 says, and flushes every row
// so that a crash loses nothing already logged; read_csv_log loads such a file (or any RFC 4180 CSV
// with a header line) back into named columns, e.g. for viz::loss_curve. The files open in pandas
// (pd.read_csv), spreadsheets and gnuplot as they are.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/io/csv.hpp"

namespace voxnn::train {

// One cell of a log row: a number (written in the shortest form that reads back to the same value;
// NaN as "nan", infinities as "inf" and "-inf") or a string.
struct CsvValue {
  std::string text;

  template <class N>
    requires std::is_arithmetic_v<N>
  CsvValue(N number) {  // NOLINT: implicit, so that rows read {{"step", 3}, {"loss", 0.25}}
    if constexpr (std::is_same_v<N, bool>) {
      text = number ? "1" : "0";
    } else if constexpr (std::is_floating_point_v<N>) {
      const double v = static_cast<double>(number);
      if (std::isnan(v)) text = "nan";
      else if (std::isinf(v)) text = v > 0 ? "inf" : "-inf";
      else text = to_text(number);
    } else {
      text = to_text(number);
    }
  }
  CsvValue(std::string s) : text(std::move(s)) {}  // NOLINT
  CsvValue(std::string_view s) : text(s) {}        // NOLINT
  CsvValue(const char* s) : text(s) {}             // NOLINT

 private:
  template <class N>
  static std::string to_text(N number) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, number);
    return std::string(buf, r.ptr);
  }
};


// Reads a log (or any CSV with a header line) back: table.numbers("loss") gives a column with NaN
// where a cell is empty. A last row cut short by a crash gets empty cells.
inline io::CsvTable read_csv_log(const std::filesystem::path& path) {
  return io::read_csv(path, {.pad_short_rows = true});
}

// Appends rows to a CSV file, flushing each one. The header is the first row's keys in their order;
// later rows may leave keys out (empty cells) and give them in any order. A row with a key the header
// lacks (a validation loss first logged at step 100) adds a column at the end: the file is rewritten
// once, through a temporary file renamed over it, with empty cells in the earlier rows.
class CsvLog {
 public:
  using Row = std::vector<std::pair<std::string, CsvValue>>;

  // Creates (or truncates) the file. With append = true an existing non-empty file is kept and
  // its header line is reused, so a resumed run continues the same log.
  explicit CsvLog(const std::filesystem::path& path, bool append = false) : path_(path) {
    std::error_code ec;
    if (append && std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0 && !ec) {
      const io::CsvTable existing = read_csv_log(path);
      columns_ = existing.header();
      rows_ = existing.size();
      out_.open(path, std::ios::binary | std::ios::app);
      if (!ends_with_newline(path)) out_ << '\n';  // a row cut short by a crash ends here
    } else {
      out_.open(path, std::ios::binary | std::ios::trunc);
    }
    VOXNN_CHECK(out_.good(), "csv: cannot open ", path, " for writing");
  }

  // Writes one row: {{"step", 10}, {"loss", 0.25}, {"phase", "train"}}.
  void write(const Row& row) {
    VOXNN_CHECK(!row.empty(), "csv: an empty row for ", path_);
    for (std::size_t a = 0; a < row.size(); ++a)
      for (std::size_t b = a + 1; b < row.size(); ++b)
        VOXNN_CHECK(row[a].first != row[b].first, "csv: key \"", row[a].first, "\" appears twice in one row");
    std::string text;
    if (columns_.empty()) {
      for (const auto& [key, value] : row) columns_.push_back(key);
      text = io::csv_record(columns_);
    } else {
      std::vector<std::string> added;
      for (const auto& [key, value] : row)
        if (std::find(columns_.begin(), columns_.end(), key) == columns_.end()) added.push_back(key);
      if (!added.empty()) add_columns(added);
    }
    std::vector<std::string> cells(columns_.size());
    for (const auto& [key, value] : row) {
      const auto it = std::find(columns_.begin(), columns_.end(), key);
      cells[static_cast<std::size_t>(it - columns_.begin())] = value.text;
    }
    text += io::csv_record(cells);
    out_ << text;
    out_.flush();
    VOXNN_CHECK(out_.good(), "csv: writing to ", path_, " failed");
    ++rows_;
  }

  const std::vector<std::string>& columns() const { return columns_; }
  int64_t rows() const { return rows_; }  // data rows in the file, including earlier runs' when appending
  const std::filesystem::path& path() const { return path_; }

 private:
  // Rewrites the file with `added` columns at the end of the header and empty cells below them.
  void add_columns(const std::vector<std::string>& added) {
    out_.close();
    const io::CsvTable existing = read_csv_log(path_);
    std::filesystem::path temporary = path_;
    temporary += ".tmp";
    {
      std::ofstream f(temporary, std::ios::binary | std::ios::trunc);
      VOXNN_CHECK(f.good(), "csv: cannot open ", temporary, " for writing");
      std::vector<std::string> header = columns_;
      header.insert(header.end(), added.begin(), added.end());
      f << io::csv_record(header);
      for (int64_t r = 0; r < existing.size(); ++r) {
        std::vector<std::string> cells = existing.row(r);
        cells.resize(header.size());
        f << io::csv_record(cells);
      }
      f.flush();
      VOXNN_CHECK(f.good(), "csv: writing ", temporary, " failed");
      columns_ = std::move(header);
    }
    std::filesystem::rename(temporary, path_);
    out_.open(path_, std::ios::binary | std::ios::app);
    VOXNN_CHECK(out_.good(), "csv: cannot reopen ", path_, " for writing");
  }

  static bool ends_with_newline(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f.good() || f.tellg() <= 0) return true;
    f.seekg(-1, std::ios::end);
    return f.get() == '\n';
  }

  std::filesystem::path path_;
  std::ofstream out_;
  std::vector<std::string> columns_;
  int64_t rows_ = 0;
};

}  // namespace voxnn::train
