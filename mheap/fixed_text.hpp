// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/fixed_text.hpp — a bounded text buffer for audit reports and misuse messages.
///
/// The heap must be able to explain itself in an embedded image with no malloc and no stdio
/// formatting, so messages are built in a fixed array; text past the end is cut, never overflows.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mheap {

/// Text of at most Capacity - 1 characters, always NUL-terminated; what does not fit is cut and
/// truncated() says so.
template <std::size_t Capacity>
class FixedText {
 public:
  /// Appends s (as much as fits).
  FixedText& operator<<(std::string_view s) noexcept {
    for (char c : s) put(c);
    return *this;
  }
  /// Appends the NUL-terminated s.
  FixedText& operator<<(const char* s) noexcept { return *this << std::string_view(s); }
  /// Appends v in decimal.
  FixedText& operator<<(std::uint64_t v) noexcept {
    char digits[20];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) put(digits[--n]);
    return *this;
  }
  /// Appends p in hexadecimal, as 0x....
  FixedText& operator<<(const void* p) noexcept {
    auto v = reinterpret_cast<std::uintptr_t>(p);
    *this << "0x";
    bool leading = true;
    for (int shift = static_cast<int>(sizeof v * 8) - 4; shift >= 0; shift -= 4) {
      unsigned nibble = (v >> shift) & 0xF;
      if (leading && nibble == 0 && shift != 0) continue;
      leading = false;
      put("0123456789abcdef"[nibble]);
    }
    return *this;
  }

  std::string_view view() const noexcept { return {text_, size_}; }  ///< The text so far.
  const char* c_str() const noexcept { return text_; }                ///< The text, NUL-terminated.
  bool empty() const noexcept { return size_ == 0; }                  ///< Nothing appended yet.
  bool truncated() const noexcept { return truncated_; }              ///< Some text did not fit.

 private:
  void put(char c) noexcept {
    if (size_ + 1 < Capacity) {
      text_[size_++] = c;
      text_[size_] = '\0';
    } else {
      truncated_ = true;
    }
  }
  char text_[Capacity] = {};
  std::size_t size_ = 0;
  bool truncated_ = false;
};

}  // namespace mheap
