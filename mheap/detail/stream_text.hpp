// SPDX-License-Identifier: BSL-1.0
// mheap/detail/stream_text.hpp — numbers and columns written to a std::ostream by the printers
// (report_text.hpp, report_json.hpp, svg_map.hpp), whatever the stream's formatting state.
//
// A caller's stream may be set to hex, have a width pending, or carry a locale that groups
// digits; JSON, SVG and aligned columns must not change with it. So numbers are formatted here
// with std::to_chars (locale-free, exact) and written as plain characters.
#pragma once
#include "require_cxx20.hpp"

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string_view>

namespace mheap::detail {

// Decimal digits of n (at most 20), in a buffer that lives as long as the object.
class Decimal {
 public:
  explicit Decimal(std::uint64_t n) noexcept { size_ = static_cast<std::size_t>(std::to_chars(text_, text_ + sizeof text_, n).ptr - text_); }
  std::string_view view() const noexcept { return {text_, size_}; }

 private:
  char text_[20];
  std::size_t size_;
};

inline void put(std::ostream& os, std::string_view text) { os.write(text.data(), static_cast<std::streamsize>(text.size())); }
inline void put_uint(std::ostream& os, std::uint64_t n) { put(os, Decimal(n).view()); }

// Text in a column of `width` characters, right- or left-aligned (never cut).
inline void put_column(std::ostream& os, std::string_view text, std::size_t width, bool right) {
  if (right)
    for (std::size_t i = text.size(); i < width; ++i) os.put(' ');
  put(os, text);
  if (!right)
    for (std::size_t i = text.size(); i < width; ++i) os.put(' ');
}
inline void put_column(std::ostream& os, std::uint64_t n, std::size_t width) { put_column(os, Decimal(n).view(), width, true); }

// Characters a terminal shows of UTF-8 text: its bytes but the continuation bytes (10xxxxxx).
// (Wide and combining characters are not told apart: a column of them may be off by a little.)
inline std::size_t shown_width(std::string_view text) noexcept {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
// A name in a left-aligned column of `width` shown characters, on one line: control characters
// (a newline in a kind's name, say) are shown as '?'.
inline void put_name_column(std::ostream& os, std::string_view text, std::size_t width) {
  for (char c : text) os.put(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  for (std::size_t i = shown_width(text); i < width; ++i) os.put(' ');
}

// Bytes as MiB with two decimals ("1.50"), the unit left to the caller. snprintf's %f follows the
// C locale's decimal point, which a C++ program leaves at "C" unless it calls setlocale itself.
class Mebibytes {
 public:
  explicit Mebibytes(std::uint64_t bytes) noexcept {
    const int n = std::snprintf(text_, sizeof text_, "%.2f", static_cast<double>(bytes) / 1048576.0);
    size_ = n < 0 ? 0 : static_cast<std::size_t>(n) < sizeof text_ ? static_cast<std::size_t>(n) : sizeof text_ - 1;
  }
  std::string_view view() const noexcept { return {text_, size_}; }

 private:
  char text_[32];
  std::size_t size_;
};

// Writes each part in turn: text as it is, unsigned integers in decimal, MiB with two decimals.
inline void put_part(std::ostream& os, std::string_view text) { put(os, text); }
inline void put_part(std::ostream& os, char c) { os.put(c); }
inline void put_part(std::ostream& os, const Mebibytes& m) { put(os, m.view()); }
template <std::unsigned_integral N>
void put_part(std::ostream& os, N n) {
  put_uint(os, n);
}
template <class... Parts>
void put_all(std::ostream& os, const Parts&... parts) {
  (put_part(os, parts), ...);
}

}  // namespace mheap::detail
