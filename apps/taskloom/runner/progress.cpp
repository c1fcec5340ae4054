#include "runner/progress.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <sstream>

#include "taskloom/core/units.hpp"

namespace taskloom::cli {
namespace {

/// Visible columns of `text`: escape sequences count none, a UTF-8 character one.
int visible_width(std::string_view text) {
  int n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b') {
      while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

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
    case K::kUpToDate:
      return s + " " + e.detail + ", not run";
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

}  // namespace

std::string fit_to_width(std::string_view line, int width) {
  if (width <= 3 || visible_width(line) <= width) return std::string(line);
  std::string out;
  int n = 0;
  bool escapes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b') {  // keep every escape sequence whole
      const std::size_t start = i;
      while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
      out.append(line.substr(start, i - start + 1));
      escapes = true;
      continue;
    }
    const bool starts_char = (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    if (starts_char && n == width - 3) break;
    if (starts_char) ++n;
    out += line[i];
  }
  return out + "..." + (escapes ? "\x1b[0m" : "");
}

namespace {

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
    if (e.kind == K::kStarted || e.kind == K::kSucceeded || e.kind == K::kUpToDate ||
        e.kind == K::kCancelled) {
      return;  // the counts below say these
    }
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
    // Each line one column short of the width, so that no terminal wraps it (a wrapped line
    // would leave the old block behind when erased).
    const int width = (options_.columns ? options_.columns() : 80) - 1;
    std::string_view rest = block_;
    lines_shown_ = 0;
    while (true) {
      const auto nl = rest.find('\n');
      out_ << fit_to_width(rest.substr(0, nl), width);
      ++lines_shown_;
      if (nl == std::string_view::npos) break;
      out_ << '\n';
      rest.remove_prefix(nl + 1);
    }
    out_ << std::flush;
  }
  /// `text` in colour `code` (an SGR number), or plain without colours.
  std::string paint(const char* code, const std::string& text) const {
    return options_.color ? "\x1b[" + std::string(code) + "m" + text + "\x1b[0m" : text;
  }

  std::string render(const ProgressSnapshot& s) const {
    const int columns = (options_.columns ? options_.columns() : 80) - 1;
    // The bar takes what the title and the counts leave, between 10 and 30 columns.
    const int kWidth = std::clamp(columns - visible_width(options_.title) - 22, 10, 30);
    const std::size_t kLineWidth = static_cast<std::size_t>(std::max(20, columns));
    const double fraction =
        s.total == 0 ? 1.0 : static_cast<double>(s.done()) / static_cast<double>(s.total);
    const int filled = static_cast<int>(std::lround(fraction * kWidth));
    std::ostringstream o;
    o << paint("1", options_.title) << " [";
    for (int i = 0; i < kWidth; ++i) {
      if (options_.unicode) {
        o << (i < filled ? "\u2588" : "\u2591");
      } else {
        o << (i < filled ? '#' : '-');
      }
    }
    o << "] " << s.done() << "/" << s.total << "  " << std::lround(fraction * 100) << "%\n";
    o << "  " << paint("32", "done " + std::to_string(s.succeeded));
    if (s.up_to_date > 0) o << " (" << s.up_to_date << " up to date)";
    o << "  running " << s.running;
    if (s.failed > 0) o << "  " << paint("31", "failed " + std::to_string(s.failed));
    if (s.skipped > 0) o << "  skipped " << s.skipped;
    if (s.cancelled > 0) o << "  cancelled " << s.cancelled;
    o << "  pending " << (s.total > s.done() + s.running ? s.total - s.done() - s.running : 0);
    o << "  elapsed " << units::format_duration(s.elapsed);
    if (s.cancelling) {
      o << "  " << paint("33", "cancelling");
    } else if (s.eta && s.done() < s.total) {  // from the durations of earlier runs
      o << "  ETA " << units::format_duration(*s.eta);
      if (s.without_forecast > 0) o << " (+" << s.without_forecast << " tasks never timed)";
    } else if (s.done() > 0 && s.done() < s.total) {  // none: as fast as so far
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
      o << "\n" << paint("36", line);
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
