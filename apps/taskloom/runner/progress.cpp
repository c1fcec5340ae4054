#include "runner/progress.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <sstream>

#include "taskloom/core/units.hpp"

namespace taskloom::cli {
namespace {

std::string time_of_day() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  return buf;
}

std::string describe(const TaskEvent& e) {
  using K = TaskEvent::Kind;
  std::string s = e.task;
  switch (e.kind) {
    case K::kStarted:
      return s + " running (attempt " + std::to_string(e.attempt) + ")";
    case K::kSucceeded:
      return s + " succeeded in " + units::format_duration(e.wall);
    case K::kRetrying:
      return s + " attempt " + std::to_string(e.attempt) + " failed: " + e.detail + " (retrying)";
    case K::kFailed:
      return s + " failed: " + e.detail;
    case K::kTimedOut:
      return s + " timed out: " + e.detail;
    case K::kCancelled:
      return s + " cancelled";
    case K::kSkipped:
      return s + " skipped: " + e.detail + " did not succeed";
  }
  return s;
}

class LineView final : public ProgressView {
 public:
  explicit LineView(std::ostream& out) : out_(out) {}
  void event(const TaskEvent& e) override {
    const std::string line = time_of_day() + " " + describe(e) + "\n";
    std::lock_guard lock(mutex_);
    out_ << line << std::flush;
  }
  void note(std::string_view text) override {
    std::lock_guard lock(mutex_);
    out_ << time_of_day() << " " << text << '\n' << std::flush;
  }

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

class QuietView final : public ProgressView {
 public:
  void event(const TaskEvent&) override {}
  void note(std::string_view) override {}
};

class LiveView final : public ProgressView {
 public:
  LiveView(ProgressViewOptions options, std::ostream& out)
      : options_(std::move(options)), out_(out) {}

  void event(const TaskEvent& e) override {
    using K = TaskEvent::Kind;
    if (e.kind == K::kStarted || e.kind == K::kSucceeded || e.kind == K::kCancelled) return;
    print_above(time_of_day() + " " + describe(e));
  }
  void note(std::string_view text) override {
    print_above(time_of_day() + " " + std::string(text));
  }
  void tick(const ProgressSnapshot& s) override {
    std::lock_guard lock(mutex_);
    block_ = render(s);
    redraw();
  }
  void close() override {
    std::lock_guard lock(mutex_);
    erase();
    block_.clear();
    out_ << std::flush;
  }

 private:
  void print_above(const std::string& line) {
    std::lock_guard lock(mutex_);
    erase();
    out_ << line << '\n';
    redraw();
  }
  // Both called with mutex_ held.
  void erase() {
    if (lines_shown_ == 0) return;
    out_ << "\r";
    if (lines_shown_ > 1) out_ << "\x1b[" << (lines_shown_ - 1) << "A";
    out_ << "\x1b[J";
    lines_shown_ = 0;
  }
  void redraw() {
    erase();
    out_ << block_;
    lines_shown_ = static_cast<int>(std::count(block_.begin(), block_.end(), '\n')) + 1;
    out_ << std::flush;
  }

  std::string render(const ProgressSnapshot& s) const {
    constexpr int kWidth = 30;
    constexpr std::size_t kLineWidth = 78;
    const double fraction =
        s.total == 0 ? 1.0 : static_cast<double>(s.done()) / static_cast<double>(s.total);
    const int filled = static_cast<int>(std::lround(fraction * kWidth));
    std::ostringstream o;
    o << "\x1b[1m" << options_.title << "\x1b[0m [";
    for (int i = 0; i < kWidth; ++i) {
      if (options_.unicode) {
        o << (i < filled ? "\u2588" : "\u2591");
      } else {
        o << (i < filled ? '#' : '-');
      }
    }
    o << "] " << s.done() << "/" << s.total << "  " << std::lround(fraction * 100) << "%\n";
    o << "  \x1b[32mdone " << s.succeeded << "\x1b[0m  running " << s.running;
    if (s.failed > 0) o << "  \x1b[31mfailed " << s.failed << "\x1b[0m";
    if (s.skipped > 0) o << "  skipped " << s.skipped;
    if (s.cancelled > 0) o << "  cancelled " << s.cancelled;
    o << "  pending " << (s.total > s.done() + s.running ? s.total - s.done() - s.running : 0);
    o << "  elapsed " << units::format_duration(s.elapsed);
    if (s.cancelling) {
      o << "  \x1b[33mcancelling\x1b[0m";
    } else if (s.done() > 0 && s.done() < s.total) {
      const double per_task =
          std::chrono::duration<double>(s.elapsed).count() / static_cast<double>(s.done());
      const double eta = per_task * static_cast<double>(s.total - s.done());
      o << "  ETA "
        << units::format_duration(
               std::chrono::duration_cast<Duration>(std::chrono::duration<double>(eta)));
    }
    if (!s.running_tasks.empty()) {
      std::string line = "  >";
      std::size_t shown = 0;
      for (const auto& [id, running_for] : s.running_tasks) {
        std::string item = " " + id + " (" + units::format_duration(running_for) + ")";
        const std::string more = " +" + std::to_string(s.running_tasks.size() - shown) + " more";
        if (line.size() + item.size() + more.size() > kLineWidth && shown > 0) {
          line += more;
          break;
        }
        line += item;
        ++shown;
      }
      o << "\n\x1b[36m" << line << "\x1b[0m";
    }
    return o.str();
  }

  ProgressViewOptions options_;
  std::ostream& out_;
  std::mutex mutex_;
  std::string block_;    // guarded by mutex_
  int lines_shown_ = 0;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<ProgressView> make_progress_view(const ProgressViewOptions& options,
                                                 std::ostream& out) {
  switch (options.mode) {
    case ProgressMode::kLive:
      return std::make_unique<LiveView>(options, out);
    case ProgressMode::kQuiet:
      return std::make_unique<QuietView>();
    case ProgressMode::kLines:
      break;
  }
  return std::make_unique<LineView>(out);
}

}  // namespace taskloom::cli
