#pragma once
// A small strict JSON reader for file headers (safetensors), and string quoting for writing them.
// It accepts only what such headers contain: objects, arrays, strings and integers. Floats,
// true/false/null, duplicate keys, invalid UTF-8 and nesting deeper than a limit are errors, so a
// hostile header cannot make the reader guess or recurse without bound.
//
// Two interfaces: Reader pulls values one at a time, so a caller keeps only what it needs (a header
// full of junk costs no memory beyond its keys); parse() builds a Value tree on top of it.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "voxnn/core/error.hpp"

namespace voxnn::io::json {

// A malformed document; its message reads "json: <what> at byte <offset>".
struct ParseError : Error {
  using Error::Error;
};

enum class Kind { integer, string, array, object };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::integer: return "an integer";
    case Kind::string: return "a string";
    case Kind::array: return "an array";
    case Kind::object: return "an object";
  }
  return "?";
}

// Pull parser over a complete document:
//   r.begin_object(); std::string key; while (r.next_member(key)) { ... read or skip the value ... }
//   r.begin_array(); while (r.next_element()) { ... }
//   r.finish();  // only whitespace may follow the top-level value
class Reader {
 public:
  explicit Reader(std::string_view text, int max_depth = 64) : text_(text), max_depth_(max_depth) {}

  // The kind of the next value; fails on anything outside the accepted subset.
  Kind peek_kind() {
    skip_space();
    if (at_end()) fail("unexpected end of text");
    const char c = text_[pos_];
    if (c == '{') return Kind::object;
    if (c == '[') return Kind::array;
    if (c == '"') return Kind::string;
    if (c == '-' || (c >= '0' && c <= '9')) return Kind::integer;
    fail("unsupported value (only objects, arrays, strings and integers are accepted)");
  }

  void begin_object() {
    open('{');
    keys_.emplace_back();
  }
  // Reads the next key and its ':' and returns true, or consumes the closing '}' and returns false.
  bool next_member(std::string& key) {
    if (!next_item('}')) {
      keys_.pop_back();
      return false;
    }
    skip_space();
    if (peek() != '"') fail("expected a string key");
    const std::size_t key_pos = pos_;
    key = read_string_token();
    // A set per open object: a linear scan per key would be quadratic on hostile input.
    if (!keys_.back().insert(key).second) {
      pos_ = key_pos;
      fail("duplicate key \"" + key + "\"");
    }
    skip_space();
    expect(':');
    return true;
  }

  void begin_array() { open('['); }
  // True when another element follows (positioned at it), false after consuming the closing ']'.
  bool next_element() { return next_item(']'); }

  std::string read_string() {
    require(Kind::string);
    return read_string_token();
  }

  int64_t read_integer() {
    require(Kind::integer);
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (at_end() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a digit");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9')
      fail("leading zero in a number");
    // Accumulate as a negative number: its range includes INT64_MIN.
    int64_t value = 0;
    constexpr int64_t lowest = std::numeric_limits<int64_t>::min();
    while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_] - '0';
      if (value < (lowest + digit) / 10) fail("integer out of the 64-bit range");
      value = value * 10 - digit;
      ++pos_;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("only integers are accepted, not fractions or exponents");
    if (!negative) {
      if (value == lowest) fail("integer out of the 64-bit range");
      value = -value;
    }
    return value;
  }

  // Validates the next value completely without keeping it.
  void skip_value() {
    switch (peek_kind()) {
      case Kind::object: {
        begin_object();
        std::string key;
        while (next_member(key)) skip_value();
        break;
      }
      case Kind::array:
        begin_array();
        while (next_element()) skip_value();
        break;
      case Kind::string: read_string_token(); break;
      case Kind::integer: read_integer(); break;
    }
  }

  void finish() {
    skip_space();
    if (!at_end()) fail("unexpected text after the top-level value");
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw ParseError("json: " + std::string(what) + " at byte " + std::to_string(pos_));
  }
  std::size_t position() const { return pos_; }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void expect(char c) {
    if (at_end() || text_[pos_] != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void require(Kind k) {
    const Kind found = peek_kind();
    if (found != k) fail(std::string("expected ") + kind_name(k) + ", found " + kind_name(found));
  }

  void open(char bracket) {
    require(bracket == '{' ? Kind::object : Kind::array);
    if (static_cast<int>(first_.size()) >= max_depth_) fail("nesting deeper than " + std::to_string(max_depth_));
    ++pos_;
    first_.push_back(true);
  }
  // Handles the separators of the innermost open object or array.
  bool next_item(char close) {
    skip_space();
    if (first_.back()) {
      first_.back() = false;
      if (peek() == close) {
        ++pos_;
        first_.pop_back();
        return false;
      }
      return true;
    }
    if (peek() == ',') {
      ++pos_;
      return true;
    }
    expect(close);
    first_.pop_back();
    return false;
  }

  unsigned hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else fail("bad hex digit in a \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Copies one well-formed UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
  void copy_utf8(std::string& out) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text_[i]); };
    const unsigned char lead = byte(pos_);
    std::size_t extra = 0;  // continuation bytes
    uint32_t cp = 0, min = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1, cp = lead & 0x1Fu, min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2, cp = lead & 0x0Fu, min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3, cp = lead & 0x07u, min = 0x10000;
    } else {
      fail("invalid UTF-8 in a string");
    }
    if (text_.size() - pos_ <= extra) fail("truncated UTF-8 sequence in a string");
    for (std::size_t i = 1; i <= extra; ++i) {
      const unsigned char c = byte(pos_ + i);
      if ((c & 0xC0) != 0x80) fail("invalid UTF-8 in a string");
      cp = (cp << 6) | (c & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("invalid UTF-8 in a string");
    out.append(text_.substr(pos_, extra + 1));
    pos_ += extra + 1;
  }

  std::string read_string_token() {
    expect('"');
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        copy_utf8(out);
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
              fail("unpaired high surrogate in a \\u escape");
            pos_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired high surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail("unknown escape");
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int max_depth_;
  std::vector<bool> first_;                          // per open object/array: no item read yet
  std::vector<std::unordered_set<std::string>> keys_;  // per open object: keys seen
};

// ---- a document as a tree --------------------------------------------------------------------------

class Value;
// An object member: (key, value). A pair rather than a struct of our own: nvcc and clang reject a
// variant alternative vector<Member> while a user-defined Member is still incomplete.
using Member = std::pair<std::string, Value>;

class Value {
 public:
  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_integer() const { return kind() == Kind::integer; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_array() const { return kind() == Kind::array; }
  bool is_object() const { return kind() == Kind::object; }

  int64_t integer() const { return get<int64_t>(Kind::integer); }
  const std::string& string() const { return get<std::string>(Kind::string); }
  const std::vector<Value>& array() const { return get<std::vector<Value>>(Kind::array); }
  // Members in the order they appear in the text.
  const std::vector<Member>& object() const { return get<std::vector<Member>>(Kind::object); }
  // The member named `key` of an object, or nullptr.
  inline const Value* find(std::string_view key) const;

  static inline Value make_integer(int64_t v);
  static inline Value make_string(std::string s);
  static inline Value make_array(std::vector<Value> items);
  static inline Value make_object(std::vector<Member> members);

 private:
  // The alternatives are in the order of Kind.
  using Data = std::variant<int64_t, std::string, std::vector<Value>, std::vector<Member>>;
  template <class X>
  explicit Value(X x) : data_(std::move(x)) {}
  template <class X>
  const X& get(Kind want) const {
    VOXNN_CHECK(kind() == want, "json: expected ", kind_name(want), ", found ", kind_name(kind()));
    return std::get<X>(data_);
  }
  Data data_;
};

// Defined here, where Value is complete: vector<Member> needs it to move.
inline Value Value::make_integer(int64_t v) { return Value(v); }
inline Value Value::make_string(std::string s) { return Value(std::move(s)); }
inline Value Value::make_array(std::vector<Value> items) { return Value(std::move(items)); }
inline Value Value::make_object(std::vector<Member> members) { return Value(std::move(members)); }

inline const Value* Value::find(std::string_view key) const {
  for (const Member& m : object())
    if (m.first == key) return &m.second;
  return nullptr;
}

// Reads the next value of `r` as a tree.
inline Value read_value(Reader& r) {
  switch (r.peek_kind()) {
    case Kind::object: {
      r.begin_object();
      std::vector<Member> members;
      std::string key;
      while (r.next_member(key)) {
        Value v = read_value(r);
        members.push_back({std::move(key), std::move(v)});
      }
      return Value::make_object(std::move(members));
    }
    case Kind::array: {
      r.begin_array();
      std::vector<Value> items;
      while (r.next_element()) items.push_back(read_value(r));
      return Value::make_array(std::move(items));
    }
    case Kind::string: return Value::make_string(r.read_string());
    case Kind::integer: break;
  }
  return Value::make_integer(r.read_integer());
}

// Parses a complete document; throws ParseError ("json: ... at byte N") outside the accepted subset.
inline Value parse(std::string_view text, int max_depth = 64) {
  Reader r(text, max_depth);
  Value v = read_value(r);
  r.finish();
  return v;
}

// `s` as a JSON string literal: quotes, backslashes and control characters escaped, other bytes kept.
inline std::string quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace voxnn::io::json
