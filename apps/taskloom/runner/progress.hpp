// apps/taskloom/runner/progress.hpp — what a user sees while a workflow runs.
//
//   auto view = make_progress_view({.mode = ProgressMode::kLines, .title = "shot-010"});
//   view->event({.kind = TaskEvent::Kind::kStarted, .task = "render-1", .attempt = 1});
//   // 12:00:01 render-1 running (attempt 1)
//   view->tick(snapshot);   // the live display redraws itself; the line log ignores ticks
//   view->close();
//
// Three views: kLines prints one line per state change (for logs and pipes), kLive keeps a
// block of a few lines (counts, a bar, elapsed time, ETA, the running tasks) redrawn in place on
// a terminal and prints only failures, retries and skips above it, kQuiet prints nothing.
// Thread-safety: event() and note() may be called from any thread (they take one mutex);
// tick() and close() from the runner's main thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/runner/workflow_run.hpp"

namespace taskloom::cli {

using runner::TaskEvent;
using ProgressSnapshot = runner::RunProgress;

enum class ProgressMode { kLines, kLive, kQuiet };

struct ProgressViewOptions {
  ProgressMode mode = ProgressMode::kLines;
  std::string title;     ///< the workflow's name
  bool unicode = false;  ///< bar drawn with block characters
  bool color = false;    ///< ANSI colours (--color, NO_COLOR)
  /// The terminal's width in columns now (called at every redraw, so resizes are followed);
  /// every line of the live block is fitted to it. Null: 80.
  std::function<int()> columns;
};

/// `line` cut to `width` visible columns (escape sequences take none, a UTF-8 character one),
/// ending in "..." and a colour reset when it had to be cut.
std::string fit_to_width(std::string_view line, int width);

class ProgressView {
 public:
  virtual ~ProgressView() = default;
  virtual void event(const TaskEvent& e) = 0;
  /// A line about the run as a whole ("cancelling: ..."), printed in every mode but kQuiet.
  virtual void note(std::string_view text) = 0;
  virtual void tick(const ProgressSnapshot&) {}
  /// Removes the live block (the summary follows); idempotent.
  virtual void close() {}
};

/// A view writing to `out` (std::cout in the CLI).
std::unique_ptr<ProgressView> make_progress_view(const ProgressViewOptions& options,
                                                 std::ostream& out);

}  // namespace taskloom::cli
