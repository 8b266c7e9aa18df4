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

namespace detail::csv {

inline bool needs_quotes(std::string_view field) {
  return field.find_first_of(",\"\r\n") != std::string_view::npos;
}

// A field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, quote or line break.
inline std::string quote(std::string_view field) {
  if (!needs_quotes(field)) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

inline std::string join_record(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += quote(fields[i]);
  }
  line += '\n';
  return line;
}

// Splits RFC 4180 text into records of fields. Records end at LF or CRLF (a line break inside quotes
// belongs to the field); a final record needs no line break; blank lines are skipped.
inline std::vector<std::vector<std::string>> parse_records(std::string_view text, std::string_view source,
                                                           std::vector<int64_t>* record_lines = nullptr) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  std::size_t i = 0;
  int64_t line = 1, record_line = 1;
  bool field_started = false;  // something (even an empty quoted string) was read for this record
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
  };
  auto end_record = [&] {
    end_field();
    const bool blank = record.size() == 1 && record[0].empty() && !field_started;
    if (!blank) {
      records.push_back(std::move(record));
      if (record_lines) record_lines->push_back(record_line);
    }
    record.clear();
    field_started = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && field.empty() && (i == 0 || text[i - 1] == ',' || text[i - 1] == '\n' || text[i - 1] == '\r')) {
      // a quoted field: up to the closing quote; "" is one quote
      const int64_t opened = line;
      field_started = true;
      ++i;
      while (true) {
        VOXNN_CHECK(i < text.size(), "csv: unterminated quoted field starting on line ", opened, " (", source, ")");
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field += text[i++];
      }
      VOXNN_CHECK(i == text.size() || text[i] == ',' || text[i] == '\n' || text[i] == '\r', "csv: line ", line,
                  ": unexpected character '", text[i], "' after a closing quote (", source, ")");
      continue;
    }
    if (c == ',') {
      end_field();
      field_started = true;
      ++i;
    } else if (c == '\n' || c == '\r') {
      end_record();
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      ++line;
      record_line = line;
    } else {
      VOXNN_CHECK(c != '"', "csv: line ", line, ": a quote inside an unquoted field (", source, ")");
      field += c;
      field_started = true;
      ++i;
    }
  }
  if (field_started || !field.empty() || !record.empty()) end_record();
  return records;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  VOXNN_CHECK(f.good(), "csv: cannot open ", path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace detail::csv

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
      const std::string text = detail::csv::read_text(path);
      const auto records = detail::csv::parse_records(text, path.string());
      VOXNN_CHECK(!records.empty(), "csv: ", path, " has no header line to append under");
      columns_ = records[0];
      rows_ = static_cast<int64_t>(records.size()) - 1;
      out_.open(path, std::ios::binary | std::ios::app);
      if (!text.empty() && text.back() != '\n') out_ << '\n';  // a row cut short by a crash ends here
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
      text = detail::csv::join_record(columns_);
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
    text += detail::csv::join_record(cells);
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
    const auto records = detail::csv::parse_records(detail::csv::read_text(path_), path_.string());
    std::filesystem::path temporary = path_;
    temporary += ".tmp";
    {
      std::ofstream f(temporary, std::ios::binary | std::ios::trunc);
      VOXNN_CHECK(f.good(), "csv: cannot open ", temporary, " for writing");
      std::vector<std::string> header = columns_;
      header.insert(header.end(), added.begin(), added.end());
      f << detail::csv::join_record(header);
      for (std::size_t r = 1; r < records.size(); ++r) {
        std::vector<std::string> cells = records[r];
        cells.resize(header.size());
        f << detail::csv::join_record(cells);
      }
      f.flush();
      VOXNN_CHECK(f.good(), "csv: writing ", temporary, " failed");
      columns_ = std::move(header);
    }
    std::filesystem::rename(temporary, path_);
    out_.open(path_, std::ios::binary | std::ios::app);
    VOXNN_CHECK(out_.good(), "csv: cannot reopen ", path_, " for writing");
  }

  std::filesystem::path path_;
  std::ofstream out_;
  std::vector<std::string> columns_;
  int64_t rows_ = 0;
};

// A CSV file as named columns of text cells.
struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> cells;  // cells[column][row]

  std::size_t rows() const { return cells.empty() ? 0 : cells[0].size(); }
  bool has(std::string_view name) const { return std::find(columns.begin(), columns.end(), name) != columns.end(); }

  const std::vector<std::string>& strings(std::string_view name) const { return cells[index(name)]; }

  // The column as numbers: NaN for an empty cell or one that is not a number ("nan", "inf" and
  // "-inf" read as themselves; surrounding spaces are ignored).
  std::vector<double> numbers(std::string_view name) const {
    const auto& column = cells[index(name)];
    std::vector<double> out(column.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t r = 0; r < column.size(); ++r) {
      std::string_view s = column[r];
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      if (!s.empty() && s.front() == '+') s.remove_prefix(1);
      double v = 0;
      const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
      if (res.ec == std::errc() && res.ptr == s.data() + s.size()) out[r] = v;
      else if (res.ec == std::errc::result_out_of_range && res.ptr == s.data() + s.size())
        out[r] = std::strtod(std::string(s).c_str(), nullptr);  // overflow to +-inf, underflow to 0 or subnormal
    }
    return out;
  }

  std::size_t index(std::string_view name) const {
    const auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) {
      std::string names;
      for (const auto& c : columns) names += (names.empty() ? "" : ", ") + c;
      ::voxnn::detail::throw_error("csv: no column \"", name, "\" (columns: ", names, ")");
    }
    return static_cast<std::size_t>(it - columns.begin());
  }
};

// Parses CSV text whose first record is the header. A row with fewer fields than the header (the
// last row of a log whose writer was killed mid-row) is padded with empty cells; a row with more
// fields is an error. `source` names the text in error messages.
inline CsvTable parse_csv(std::string_view text, std::string_view source = "csv text") {
  std::vector<int64_t> lines;
  auto records = detail::csv::parse_records(text, source, &lines);
  VOXNN_CHECK(!records.empty(), "csv: ", source, " is empty (no header line)");
  CsvTable table;
  table.columns = std::move(records[0]);
  for (std::size_t a = 0; a < table.columns.size(); ++a)
    for (std::size_t b = a + 1; b < table.columns.size(); ++b)
      VOXNN_CHECK(table.columns[a] != table.columns[b], "csv: column \"", table.columns[a],
                  "\" appears twice in the header of ", source);
  table.cells.assign(table.columns.size(), {});
  for (std::size_t r = 1; r < records.size(); ++r) {
    auto& record = records[r];
    VOXNN_CHECK(record.size() <= table.columns.size(), "csv: line ", lines[r], " of ", source, " has ", record.size(),
                " fields but the header has ", table.columns.size());
    record.resize(table.columns.size());
    for (std::size_t c = 0; c < record.size(); ++c) table.cells[c].push_back(std::move(record[c]));
  }
  return table;
}

inline CsvTable read_csv_log(const std::filesystem::path& path) {
  return parse_csv(detail::csv::read_text(path), path.string());
}

}  // namespace voxnn::train
