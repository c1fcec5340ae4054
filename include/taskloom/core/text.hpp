// taskloom/core/text.hpp — small text helpers shared by every layer's error messages.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace taskloom {

/// Levenshtein distance between two strings, O(|a|·|b|) time, O(|b|) memory.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` by edit distance, or "" when none is within
/// max(2, |word|/3) edits (so unrelated names are not suggested).
std::string closest_match(std::string_view word, std::span<const std::string> candidates);

/// `s` without leading and trailing white space.
std::string_view trim(std::string_view s) noexcept;

/// The parts with `separator` between them: join({"a", "b"}, ", ") == "a, b".
std::string join(std::span<const std::string> parts, std::string_view separator);

/// The last `max_bytes` of the file at `path` (all of it when shorter, "" when it cannot be
/// read): what a message quotes of a log, however large the log grew.
std::string read_tail(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace taskloom
