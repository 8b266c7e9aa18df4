#pragma once
// CSV with a header row, as RFC 4180 writes it: fields separated by commas, double-quoted fields that
// may hold commas, line breaks and "" for a quote, LF or CRLF line ends. Read for dataset manifests
// (data::CsvDataset) and training logs (train::read_csv_log), written by train::CsvLog through
// csv_record(). Errors name the file and the line.
//
//   const io::CsvTable table = io::read_csv("train.csv");
//   const int64_t image = table.column("image");          // throws, listing the columns, if absent
//   for (int64_t r = 0; r < table.size(); ++r) use(table.at(r, image), table.line(r));
//
// Every record must have as many fields as the header, unless CsvReadOptions::pad_short_rows lets a
// short record (the last row of a log whose writer was killed mid-row) take empty cells. Blank lines
// (no characters at all) are skipped; a UTF-8 byte order mark before the header is dropped. Fields
// are kept verbatim (no trimming); number() and numbers() trim spaces and tabs around a number.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"

namespace voxnn::io {

class CsvTable {
 public:
  CsvTable() = default;
  CsvTable(std::string source, std::vector<std::string> header, std::vector<std::vector<std::string>> rows,
           std::vector<int64_t> lines)
      : source_(std::move(source)), header_(std::move(header)), rows_(std::move(rows)), lines_(std::move(lines)) {}

  // Where the text came from (a path, or "<string>"), for messages.
  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  // Number of records after the header.
  int64_t size() const { return static_cast<int64_t>(rows_.size()); }
  int64_t num_columns() const { return static_cast<int64_t>(header_.size()); }

  // The index of the column named `name`, or nothing.
  std::optional<int64_t> find_column(std::string_view name) const {
    for (std::size_t c = 0; c < header_.size(); ++c)
      if (header_[c] == name) return static_cast<int64_t>(c);
    return std::nullopt;
  }
  // The index of the column named `name`; an error listing the header when there is none.
  int64_t column(std::string_view name) const {
    const auto c = find_column(name);
    if (!c) {
      std::string have;
      for (std::size_t i = 0; i < header_.size(); ++i) have += (i ? ", \"" : "\"") + header_[i] + "\"";
      ::voxnn::detail::throw_error("csv: no column named \"", name, "\" in ", source_, " (columns: ", have, ")");
    }
    return *c;
  }

  const std::string& at(int64_t row, int64_t col) const {
    VOXNN_CHECK(row >= 0 && row < size(), "csv: row ", row, " out of range for ", source_, " with ", size(), " rows");
    VOXNN_CHECK(col >= 0 && col < num_columns(), "csv: column ", col, " out of range for ", source_, " with ",
                num_columns(), " columns");
    return rows_[static_cast<std::size_t>(row)][static_cast<std::size_t>(col)];
  }
  const std::vector<std::string>& row(int64_t r) const {
    VOXNN_CHECK(r >= 0 && r < size(), "csv: row ", r, " out of range for ", source_, " with ", size(), " rows");
    return rows_[static_cast<std::size_t>(r)];
  }
  // The 1-based line of the file where record `r` starts (the header is on line 1 unless blank
  // lines precede it).
  int64_t line(int64_t r) const {
    VOXNN_CHECK(r >= 0 && r < size(), "csv: row ", r, " out of range for ", source_, " with ", size(), " rows");
    return lines_[static_cast<std::size_t>(r)];
  }

  bool has(std::string_view name) const { return find_column(name).has_value(); }

  // Field (row, col) as a number; an error naming the file, line and column when it is not a finite one.
  double number(int64_t r, int64_t col) const {
    const std::string& field = at(r, col);
    const std::optional<double> v = parse_number(field);
    VOXNN_CHECK(v && std::isfinite(*v), "csv: ", source_, " line ", line(r), ", column \"",
                header_[static_cast<std::size_t>(col)], "\": \"", field, "\" is not a finite number");
    return *v;
  }

  // A whole column as numbers, leniently, for logs: NaN where a cell is empty or not a number; "nan",
  // "inf" and "-inf" read as themselves, and a number too large for a double as an infinity.
  std::vector<double> numbers(std::string_view name) const {
    const auto c = static_cast<std::size_t>(column(name));
    std::vector<double> out(rows_.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t r = 0; r < rows_.size(); ++r)
      if (const auto v = parse_number(rows_[r][c])) out[r] = *v;
    return out;
  }

  // A number with optional spaces or tabs around it and an optional '+', or nothing.
  static std::optional<double> parse_number(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (end != s.data() + s.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range)  // from_chars leaves v alone: let strtod pick inf or 0
      return std::strtod(std::string(s).c_str(), nullptr);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }

 private:
  std::string source_ = "<string>";
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int64_t> lines_;
};

struct CsvReadOptions {
  bool pad_short_rows = false;  // a record with fewer fields than the header gets empty cells
};

// Parses CSV text whose first record is the header. `source` names the text in messages.
inline CsvTable parse_csv(std::string_view text, const std::string& source = "<string>",
                          const CsvReadOptions& options = {}) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> lines;
  std::vector<std::string> record;
  std::string field;
  int64_t line = 1, record_line = 1;
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool in_record = false;  // a record has started (so a line end closes it)
  auto end_record = [&] {
    record.push_back(std::move(field));
    field.clear();
    records.push_back(std::move(record));
    record.clear();
    lines.push_back(record_line);
    in_record = false;
  };
  while (i < n) {
    const char c = text[i];
    if (!in_record) {
      if (c == '\n' || c == '\r') {  // a blank line
        i += (c == '\r' && i + 1 < n && text[i + 1] == '\n') ? 2 : 1;
        ++line;
        continue;
      }
      in_record = true;
      record_line = line;
    }
    if (c == '"') {
      if (!field.empty())
        ::voxnn::detail::throw_error("csv: ", source, " line ", line, ": a quote inside the unquoted field \"", field,
                                     "\" (quote the whole field and double the quote)");
      const int64_t open_line = line;
      ++i;
      for (;;) {
        if (i >= n)
          ::voxnn::detail::throw_error("csv: ", source, " line ", open_line,
                                       ": quoted field is not closed before the end of the file");
        const char q = text[i];
        if (q == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (q == '\n') ++line;
        field.push_back(q);
        ++i;
      }
      // After the closing quote: a separator, a line end or the end of the text.
      if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        ::voxnn::detail::throw_error("csv: ", source, " line ", line, ": unexpected character '", text[i],
                                     "' after the closing quote of field \"", field, "\"");
      continue;  // the separator or line end is handled as for an unquoted field
    }
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      ++i;
      if (i >= n) end_record();
      continue;
    }
    if (c == '\n' || c == '\r') {
      i += (c == '\r' && i + 1 < n && text[i + 1] == '\n') ? 2 : 1;
      end_record();
      ++line;
      continue;
    }
    field.push_back(c);
    ++i;
  }
  if (in_record) end_record();

  VOXNN_CHECK(!records.empty(), "csv: ", source, " is empty; expected a header row naming the columns");
  std::vector<std::string> header = std::move(records.front());
  for (std::size_t a = 0; a < header.size(); ++a) {
    VOXNN_CHECK(!header[a].empty(), "csv: ", source, " line ", lines.front(), ": header column ", a + 1,
                " has no name");
    for (std::size_t b = 0; b < a; ++b)
      VOXNN_CHECK(header[a] != header[b], "csv: ", source, " line ", lines.front(), ": column name \"", header[a],
                  "\" appears twice in the header");
  }
  std::vector<std::vector<std::string>> rows(std::make_move_iterator(records.begin() + 1),
                                             std::make_move_iterator(records.end()));
  std::vector<int64_t> row_lines(lines.begin() + 1, lines.end());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const bool fits = rows[r].size() == header.size() || (options.pad_short_rows && rows[r].size() < header.size());
    VOXNN_CHECK(fits, "csv: ", source, " line ", row_lines[r], ": ", rows[r].size(), " fields, but the header has ",
                header.size(), " columns");
    rows[r].resize(header.size());
  }
  return CsvTable(source, std::move(header), std::move(rows), std::move(row_lines));
}

// Reads and parses a CSV file (see parse_csv).
inline CsvTable read_csv(const std::filesystem::path& path, const CsvReadOptions& options = {}) {
  std::ifstream in(path, std::ios::binary);
  VOXNN_CHECK(in.good(), "csv: cannot open ", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  VOXNN_CHECK(!in.bad(), "csv: error while reading ", path.string());
  return parse_csv(buffer.str(), path.string(), options);
}

// ---- writing --------------------------------------------------------------------------------------

// A field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, quote or line break.
inline std::string csv_field(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// One record: the fields quoted where needed, separated by commas, ended by a line feed.
inline std::string csv_record(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv_field(fields[i]);
  }
  line += '\n';
  return line;
}

}  // namespace voxnn::io
