// taskloom/core/units.hpp — the one parser and formatter of durations and sizes, used by the
// workflow format, the cluster readers, the command line and every report.
//
//   units::parse_duration("1h30m") == 90min      units::format_duration(90s) == "1m30s"
//   units::parse_size("4G") == 4e9  ("4 GB", "4GB" too; "4GiB" == 4 * 2^30)
//   units::format_size(4e9) == "4 GB"
//
// Sizes use SI prefixes for K/M/G/T/P/E (powers of 1000) and IEC ones for Ki/.../Ei
// (powers of 1024), with an optional "B" and optional space; case is ignored in the prefix
// ("4g" == "4G"), as Slurm and most tools accept it. A plain number is bytes (sizes) or
// seconds (durations). Pure functions: call them from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "taskloom/core/clock.hpp"

namespace taskloom::units {

/// "90s", "5m", "1h30m", "250ms", "40us", "2d", "1.5h", or plain seconds ("1.5"); units may be
/// separated by spaces ("1h 30m"). nullopt when malformed, negative or above 10^9 seconds.
std::optional<Duration> parse_duration(std::string_view text);

/// A byte count ("512M", "4 GB", "1.5GiB", "100B", "4096"); nullopt when malformed,
/// negative or not finite.
std::optional<double> parse_size(std::string_view text);

/// For people, rounded to what matters: "0s", "40us", "250ms", "1.5s", "12s", "2m05s",
/// "1h02m", "3d04h". Negative durations get a leading "-".
std::string format_duration(Duration d);

/// Exact when it can be: "5s", "200ms", "10m", "2h", "2d", else in seconds, milliseconds or
/// microseconds with up to three decimals ("1.5s", "2.25ms", "3661.5s"), which parse_duration
/// reads back — for messages that repeat a limit the user wrote ("timed out after 10m").
std::string format_limit(Duration d);

/// "0 B", "512 B", "1.5 kB", "4 GB", "1.2 TB" (SI, three significant digits at most).
std::string format_size(double bytes);

}  // namespace taskloom::units
