// Enum values with their spellings: the one table a config choice is read from and written back with
// (config.hpp's `v.choice(key, field, table)`), and the names shown in labels and messages.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace srl::config {

// One spelling of an enum value; a Names table lists every value of the enum once.
template <class E>
struct Named {
  const char* name;
  E value;
};
template <class E, size_t N>
using Names = std::array<Named<E>, N>;

// The spelling of `value` in its table; "?" if it is not listed.
template <class E, size_t N>
constexpr const char* name_of(const Names<E, N>& names, E value) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "?";
}

// The value spelled `text` in the table; nullopt if none is.
template <class E, size_t N>
constexpr std::optional<E> value_of(const Names<E, N>& names, std::string_view text) {
  for (const auto& n : names)
    if (text == n.name) return n.value;
  return std::nullopt;
}

}  // namespace srl::config
