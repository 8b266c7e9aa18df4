// io::CsvTable: RFC 4180 parsing (quoting, CRLF, fields over several lines, a byte order mark), errors
// with the file and line, strict and lenient numbers, padding of short rows for logs cut off by a
// crash, random text, and the writer's quoting read back by the parser.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <voxnn/io/csv.hpp>

using namespace voxnn;
using Catch::Contains;

TEST_CASE("parse_csv reads RFC 4180 quoting, CRLF and multi-line fields", "[io][csv]") {
  const std::string text =
      "\xEF\xBB\xBFimage,label,note\r\n"
      "a.nii,\"b, c.nii\",\"he said \"\"hi\"\"\"\r\n"
      "\r\n"
      "\"two\nlines.nii\",,\"\"\n"
      "last.nii,x,\n"
      "end.nii,y,z";
  const io::CsvTable t = io::parse_csv(text, "manifest.csv");
  REQUIRE(t.header() == std::vector<std::string>{"image", "label", "note"});
  REQUIRE(t.size() == 4);
  CHECK(t.row(0) == std::vector<std::string>{"a.nii", "b, c.nii", "he said \"hi\""});
  CHECK(t.row(1) == std::vector<std::string>{"two\nlines.nii", "", ""});
  CHECK(t.row(2) == std::vector<std::string>{"last.nii", "x", ""});
  CHECK(t.row(3) == std::vector<std::string>{"end.nii", "y", "z"});
  CHECK(t.line(0) == 2);
  CHECK(t.line(1) == 4);  // after a blank line
  CHECK(t.line(2) == 6);  // after a field spanning two lines
  CHECK(t.line(3) == 7);
  CHECK(t.column("label") == 1);
  CHECK_FALSE(t.find_column("age").has_value());
  CHECK(t.source() == "manifest.csv");
}

TEST_CASE("parse_csv reports malformed text with the line", "[io][csv]") {
  REQUIRE_THROWS_WITH(io::parse_csv("a,b\n1,\"open\n2,3\n", "m.csv"),
                      Catch::Contains("csv: m.csv line 2: quoted field is not closed"));
  REQUIRE_THROWS_WITH(io::parse_csv("a,b\n1,2\n3,x\"y\n", "m.csv"),
                      Catch::Contains("m.csv line 3: a quote inside the unquoted field \"x\""));
  REQUIRE_THROWS_WITH(io::parse_csv("a,b\n\"1\"2,3\n", "m.csv"),
                      Catch::Contains("line 2: unexpected character '2' after the closing quote"));
  REQUIRE_THROWS_WITH(io::parse_csv("a,b\n1,2\n\n1,2,3\n", "m.csv"),
                      Catch::Contains("m.csv line 4: 3 fields, but the header has 2 columns"));
  REQUIRE_THROWS_WITH(io::parse_csv("", "m.csv"), Catch::Contains("m.csv is empty"));
  REQUIRE_THROWS_WITH(io::parse_csv("a,b,a\n", "m.csv"), Catch::Contains("column name \"a\" appears twice"));
  REQUIRE_THROWS_WITH(io::parse_csv("a,,c\n", "m.csv"), Catch::Contains("header column 2 has no name"));
  const io::CsvTable t = io::parse_csv("image,age\nx,41\ny, 7.5 \nz,old\nw,\n", "m.csv");
  REQUIRE_THROWS_WITH(t.column("label"), Catch::Contains("no column named \"label\" in m.csv (columns: \"image\", \"age\")"));
  CHECK(t.number(0, 1) == 41.0);
  CHECK(t.number(1, 1) == 7.5);
  REQUIRE_THROWS_WITH(t.number(2, 1), Catch::Contains("m.csv line 4, column \"age\": \"old\" is not a finite number"));
  REQUIRE_THROWS_WITH(t.number(3, 1), Catch::Contains("line 5, column \"age\": \"\" is not"));
  REQUIRE_THROWS_WITH(io::read_csv("/nonexistent/voxnn/m.csv"), Catch::Contains("csv: cannot open /nonexistent"));
}

TEST_CASE("csv: lenient numbers, short rows padded on request, random text", "[io][csv]") {
  const std::string text = "step,loss,tag\r\n1, 0.5 ,\"a\r\nb\"\r\n\r\n2,+2,\"\"\n3,nan,x\n4,1e999,y\n5,abc,\n6,-inf";
  REQUIRE_THROWS_WITH(io::parse_csv(text, "log.csv"), Contains("log.csv line 9: 2 fields, but the header has 3"));
  const io::CsvTable t = io::parse_csv(text, "log.csv", {.pad_short_rows = true});
  REQUIRE(t.size() == 6);
  CHECK(t.at(0, 2) == "a\r\nb");
  CHECK(t.row(5) == std::vector<std::string>{"6", "-inf", ""});
  const auto loss = t.numbers("loss");
  CHECK(loss[0] == 0.5);
  CHECK(loss[1] == 2);
  CHECK(std::isnan(loss[2]));
  CHECK(loss[3] == INFINITY);
  CHECK(std::isnan(loss[4]));
  CHECK(loss[5] == -INFINITY);
  CHECK(t.numbers("step") == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(t.has("tag"));
  CHECK_FALSE(t.has("dice"));
  REQUIRE_THROWS_WITH(t.numbers("dice"), Contains("csv: no column named \"dice\" in log.csv"));
  REQUIRE_THROWS_WITH(t.number(3, 1), Contains("\"1e999\" is not a finite number"));
  REQUIRE_THROWS_WITH(io::parse_csv("a,b\n1,2,3\n", "m.csv", {.pad_short_rows = true}),
                      Contains("m.csv line 2: 3 fields, but the header has 2"));

  // a header-only file has columns and no rows; quoted header names work
  const io::CsvTable h = io::parse_csv("\"x, y\",z\n");
  CHECK(h.header() == std::vector<std::string>{"x, y", "z"});
  CHECK(h.size() == 0);

  // random text never crashes the reader: it parses into full rows or fails with a csv: error
  std::mt19937 rng(5);
  const std::string alphabet = "ab,\"\r\n 1.";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string random_text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) random_text += alphabet[rng() % alphabet.size()];
    try {
      const io::CsvTable r = io::parse_csv(random_text);
      for (int64_t row = 0; row < r.size(); ++row) CHECK(r.row(row).size() == r.header().size());
    } catch (const voxnn::Error& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("csv:"));
    }
  }
}

TEST_CASE("csv: fields are quoted only when they must be", "[io][csv]") {
  CHECK(io::csv_field("plain") == "plain");
  CHECK(io::csv_field("a, b") == "\"a, b\"");
  CHECK(io::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(io::csv_field("two\nlines") == "\"two\nlines\"");
  const std::vector<std::string> fields{"x", "", "a,b", "q\"", "r\r\n"};
  const std::string record = io::csv_record(fields);
  CHECK(record == "x,,\"a,b\",\"q\"\"\",\"r\r\n\"\n");
  const io::CsvTable back = io::parse_csv("c1,c2,c3,c4,c5\n" + record);
  CHECK(back.row(0) == fields);
}
