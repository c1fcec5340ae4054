// taskloom/core/text.hpp — small text helpers shared by every layer's error messages.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace taskloom {

/// Levenshtein distance between two strings, O(|a|·|b|) time, O(|b|) memory.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` by edit distance, or "" when none is within
/// max(2, |word|/3) edits (so unrelated names are not suggested).
std::string closest_match(std::string_view word, std::span<const std::string> candidates);

}  // namespace taskloom
