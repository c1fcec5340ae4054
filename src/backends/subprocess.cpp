// run_command: posix_spawn into a new process group, wait on a pidfd and a stop eventfd with
// ppoll, terminate the group with SIGTERM then SIGKILL, reap with wait4 for rusage.
#include "taskloom/backends/subprocess.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <variant>

#include "taskloom/backends/local.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/core/units.hpp"

#include "backends/signals.hpp"

extern char** environ;

namespace taskloom::backends {
namespace {

using namespace std::chrono_literals;
using Outcome = CommandOutcome;
using End = CommandOutcome::End;

/// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int err) {
  const char* d = ::strerrordesc_np(err);
  return d != nullptr ? d : "error " + std::to_string(err);
}

Duration to_duration(const timeval& tv) {
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

void validate(const CommandSpec& spec) {
  auto fail = [](const std::string& what) { throw InvalidArgumentError("run_command: " + what); };
  if (spec.command.empty()) fail("empty command — give the shell command line to run");
  if (spec.command.find('\0') != std::string::npos) fail("the command contains a NUL byte");
  if (spec.shell.empty()) fail("empty shell path — leave the default /bin/sh or name a shell");
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      fail("bad environment variable name '" + name + "' — names are non-empty, without '='");
    }
    if (value.find('\0') != std::string::npos) {
      fail("environment variable " + name + " has a NUL byte in its value");
    }
  }
  if (spec.timeout < Duration::zero()) fail("negative timeout — use zero for none");
  if (spec.kill_grace < Duration::zero()) fail("negative kill_grace — use zero for none");
}

/// "NAME=value" strings: the inherited environment (unless told not to) with `env` applied.
std::vector<std::string> build_environment(const CommandSpec& spec) {
  std::unordered_map<std::string_view, std::size_t> last;  // name -> index in spec.env
  for (std::size_t i = 0; i < spec.env.size(); ++i) last[spec.env[i].first] = i;
  std::vector<std::string> out;
  if (spec.inherit_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view kv(*e);
      if (!last.contains(kv.substr(0, kv.find('=')))) out.emplace_back(kv);
    }
  }
  for (std::size_t i = 0; i < spec.env.size(); ++i) {
    if (last[spec.env[i].first] == i) out.push_back(spec.env[i].first + "=" + spec.env[i].second);
  }
  return out;
}

/// Opens a log file for the child (parent directories created, truncated). Returns an fd >= 3
/// with O_CLOEXEC, or an error message.
std::variant<UniqueFd, std::string> open_log(const std::filesystem::path& path) {
  const std::filesystem::path target = path.empty() ? std::filesystem::path("/dev/null") : path;
  if (target.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) {
      return "cannot create the directory of log file " + target.string() + ": " + ec.message();
    }
  }
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return "cannot open log file " + target.string() + ": " + errno_text(errno);
  UniqueFd owned(fd);
  if (fd < 3) {  // dup2(fd, fd) in the child would keep O_CLOEXEC; move it out of the way
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return "cannot open log file " + target.string() + ": " + errno_text(errno);
    owned = UniqueFd(moved);
  }
  return owned;
}

bool same_file(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && S_ISREG(sa.st_mode) &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/// A hint for a failed command whose regular log file sits on a full file system.
/// By path, not by descriptor: the runner closes its copies of the log descriptors once the
/// child has them (every descriptor it holds is copied, then closed, by each later spawn).
std::string full_disk_hint(const std::filesystem::path& path) {
  struct stat st {};
  struct statvfs vfs {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      ::statvfs(path.c_str(), &vfs) != 0) {
    return {};
  }
  if (vfs.f_bavail != 0) return {};
  return "; the file system of log file " + path.string() + " is full, output may be missing";
}

/// RAII for the posix_spawn attribute and file-action objects.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

/// Watches the leader process for its end without reaping it (so its pid, which is also the
/// group id, cannot be reused while we may still signal the group).
class LeaderWatch {
 public:
  enum class Wake { kExited, kStop, kDeadline };

  explicit LeaderWatch(pid_t pid)
      : pid_(pid), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}

  /// Waits until the leader has ended, `stop_fd` (if >= 0) is readable, or `deadline`.
  Wake wait(int stop_fd, std::optional<TimePoint> deadline) const {
    for (;;) {
      pollfd fds[2] = {{pidfd_.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
      timespec ts{};
      const timespec* timeout = nullptr;
      bool slice = false;
      if (deadline || !pidfd_) {
        Duration left = deadline ? *deadline - std::chrono::steady_clock::now() : Duration::max();
        if (left < Duration::zero()) left = Duration::zero();
        if (!pidfd_ && left > 10ms) {  // no pidfd (old kernel, no fds left): check every 10 ms
          left = 10ms;
          slice = true;
        }
        ts.tv_sec = static_cast<time_t>(left / 1s);
        ts.tv_nsec = static_cast<long>((left % 1s).count());
        timeout = &ts;
      }
      const int rc = ::ppoll(fds, 2, timeout, nullptr);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return Wake::kExited;  // cannot happen with valid fds; the reap then blocks
      if (exited(fds[0])) return Wake::kExited;
      if (stop_fd >= 0 && (fds[1].revents & POLLIN) != 0) return Wake::kStop;
      if (rc == 0 && !slice) return Wake::kDeadline;
    }
  }

 private:
  bool exited(const pollfd& p) const {
    if (pidfd_) return p.revents != 0;
    siginfo_t info{};
    const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    return rc != 0 || info.si_pid == pid_;  // ECHILD: lost; the reap reports it
  }

  pid_t pid_;
  UniqueFd pidfd_;
};

/// True if a process other than `leader` and not a zombie is in process group `pgid`.
bool group_has_other_live_member(pid_t pgid, pid_t leader) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return false;
  bool found = false;
  while (!found) {
    const dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid == leader) continue;
    std::ifstream stat_file("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(stat_file, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp) found = pgrp == pgid && state != 'Z' && state != 'X';
  }
  ::closedir(dir);
  return found;
}

/// SIGTERM to the group; up to `grace` for the leader and then the rest of the group to end;
/// SIGKILL if anything is left; returns once the leader has ended. True if SIGKILL was sent.
bool terminate_group(const LeaderWatch& watch, pid_t pgid, Duration grace) {
  ::kill(-pgid, SIGTERM);
  ::kill(-pgid, SIGCONT);  // a stopped process handles its SIGTERM only once continued
  const TimePoint grace_end = std::chrono::steady_clock::now() + grace;
  bool leader_done = watch.wait(-1, grace_end) == LeaderWatch::Wake::kExited;
  if (leader_done) {
    // The shell has gone; its children got the same SIGTERM and may still be cleaning up.
    while (group_has_other_live_member(pgid, pgid)) {
      const Duration left = grace_end - std::chrono::steady_clock::now();
      if (left <= Duration::zero()) break;
      std::this_thread::sleep_for(std::min<Duration>(left, 20ms));
    }
    if (!group_has_other_live_member(pgid, pgid)) return false;
  }
  ::kill(-pgid, SIGKILL);
  if (!leader_done) watch.wait(-1, std::nullopt);
  return true;
}

std::string exit_message(int code) {
  std::string m = "exit status " + std::to_string(code);
  const int sig = code - 128;
  if (sig > 0 && sig < NSIG && ::sigabbrev_np(sig) != nullptr) {
    m += " (as a shell reports a command killed by " + signal_name(sig) + ")";
  }
  return m;
}

}  // namespace

std::string_view to_string(CommandOutcome::End end) noexcept {
  switch (end) {
    case End::kExited:
      return "exited";
    case End::kSignaled:
      return "signaled";
    case End::kTimedOut:
      return "timed_out";
    case End::kCancelled:
      return "cancelled";
    case End::kFailedToStart:
      return "failed_to_start";
    case End::kLost:
      return "lost";
  }
  return "unknown";
}

CommandOutcome run_command(const CommandSpec& spec, std::stop_token stop,
                           const std::function<void(pid_t)>& on_started) {
  validate(spec);
  Outcome out;
  auto fail_to_start = [&out](std::string message) {
    out.end = End::kFailedToStart;
    out.message = std::move(message);
    return out;
  };
  if (stop.stop_requested()) {
    out.end = End::kCancelled;
    out.message = "cancelled before it started";
    return out;
  }

  if (!spec.cwd.empty()) {
    std::error_code ec;
    const auto st = std::filesystem::status(spec.cwd, ec);
    if (!std::filesystem::exists(st)) {
      return fail_to_start("working directory " + spec.cwd.string() + " does not exist");
    }
    if (!std::filesystem::is_directory(st)) {
      return fail_to_start("working directory " + spec.cwd.string() + " is not a directory");
    }
  }
  auto out_log = open_log(spec.stdout_path);
  if (auto* err = std::get_if<std::string>(&out_log)) return fail_to_start(std::move(*err));
  const UniqueFd out_fd = std::move(std::get<UniqueFd>(out_log));
  auto err_log = open_log(spec.stderr_path);
  if (auto* err = std::get_if<std::string>(&err_log)) return fail_to_start(std::move(*err));
  UniqueFd err_fd = std::move(std::get<UniqueFd>(err_log));
  // One file for both: share one open file description, so the writes do not overwrite each
  // other.
  const int err_target = same_file(out_fd.get(), err_fd.get()) ? out_fd.get() : err_fd.get();

  const UniqueFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd) return fail_to_start("cannot create an eventfd: " + errno_text(errno));

  SpawnSetup setup;
  ::posix_spawnattr_setflags(
      &setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&setup.attr, 0);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  sigset_t all;
  sigfillset(&all);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);
  ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions, out_fd.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, err_target, STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!spec.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());

  std::string arg0 = spec.shell.string(), arg1 = "-c", arg2 = spec.command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  std::vector<std::string> env = build_environment(spec);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Registered before the spawn so that a stop request during it is not missed.
  std::stop_callback on_stop(stop, [fd = stop_fd.get()] {
    const std::uint64_t one = 1;
    if (::write(fd, &one, sizeof one) < 0) {
      // The counter cannot overflow from one write; nothing to do.
    }
  });

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawn_err =
      ::posix_spawn(&pid, spec.shell.c_str(), &setup.actions, &setup.attr, argv, envp.data());
  if (spawn_err != 0) {
    std::string where = spec.cwd.empty() ? "" : " in " + spec.cwd.string();
    return fail_to_start("cannot start " + spec.shell.string() + where + ": " +
                         errno_text(spawn_err));
  }
  out.pid = pid;
  const LeaderWatch watch(pid);

  int status = 0;
  rusage usage{};
  auto reap = [&] {
    ::kill(-pid, SIGKILL);  // the rest of the group; the unreaped leader keeps the id ours
    for (;;) {
      const pid_t r = ::wait4(pid, &status, 0, &usage);
      if (r == pid) return true;
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
  };

  if (on_started) {
    try {
      on_started(pid);
    } catch (...) {
      reap();
      throw;
    }
  }

  std::optional<TimePoint> deadline;
  if (spec.timeout > Duration::zero()) deadline = start + spec.timeout;
  const LeaderWatch::Wake wake = watch.wait(stop_fd.get(), deadline);
  bool sent_kill = false;
  if (wake != LeaderWatch::Wake::kExited) sent_kill = terminate_group(watch, pid, spec.kill_grace);
  const bool reaped = reap();
  out.wall = std::chrono::steady_clock::now() - start;
  if (!reaped) {
    out.end = End::kLost;
    out.message =
        "lost track of the process: something else in this program reaped it (SIGCHLD ignored, "
        "or wait()/waitpid(-1) in another thread)";
    return out;
  }
  out.user_cpu = to_duration(usage.ru_utime);
  out.system_cpu = to_duration(usage.ru_stime);
  out.peak_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) {
    out.end = End::kExited;
    out.exit_code = WEXITSTATUS(status);
    out.message = exit_message(out.exit_code);
  } else if (WIFSIGNALED(status)) {
    out.end = End::kSignaled;
    out.signal = WTERMSIG(status);
    out.message = "killed by signal " + signal_name(out.signal) + " (" +
                  std::to_string(out.signal) + ")" + (WCOREDUMP(status) ? ", core dumped" : "");
  }
  if (wake != LeaderWatch::Wake::kExited) {
    out.end = wake == LeaderWatch::Wake::kStop ? End::kCancelled : End::kTimedOut;
    out.message =
        (out.end == End::kCancelled ? std::string("cancelled")
                                    : "timed out after " + units::format_limit(spec.timeout)) +
        ": sent SIGTERM to its process group, " +
        (sent_kill ? "SIGKILL after " + units::format_limit(spec.kill_grace) + " grace"
                   : "which ended within the " + units::format_limit(spec.kill_grace) + " grace");
  } else if (!out.succeeded()) {
    out.message += full_disk_hint(spec.stdout_path);
    if (err_target != out_fd.get()) out.message += full_disk_hint(spec.stderr_path);
  }
  return out;
}

}  // namespace taskloom::backends

// ---------------------------------------------------------------------------- LocalBackend

namespace taskloom::backends {
namespace {

bool plain_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_./,:+@%=-").find(c) != std::string_view::npos;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

/// One process the event thread watches.
struct LocalAttempt {
  enum class Stop { kNone, kCancelled, kTimedOut };
  std::uint64_t id = 0;
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd out_fd, err_fd;
  bool shared_log = false;
  AttemptSpec spec;
  TimePoint started;
  std::optional<TimePoint> deadline;  // the timeout
  std::optional<TimePoint> kill_at;   // SIGKILL, once SIGTERM was sent
  Stop stop = Stop::kNone;
  bool sent_kill = false;
  AttemptCallbacks callbacks;
  std::unique_ptr<std::stop_callback<std::function<void()>>> on_stop;
};

void send_term(LocalAttempt& a, LocalAttempt::Stop why, TimePoint now) {
  if (a.stop != LocalAttempt::Stop::kNone) return;
  a.stop = why;
  ::kill(-a.pid, SIGTERM);
  ::kill(-a.pid, SIGCONT);  // a stopped process handles its SIGTERM only once continued
  a.kill_at = now + a.spec.kill_grace;
}

AttemptResult result_of(LocalAttempt& a, int status, const rusage& usage, TimePoint now) {
  using R = AttemptResult::End;
  AttemptResult r;
  r.wall = now - a.started;
  r.user_cpu = to_duration(usage.ru_utime);
  r.system_cpu = to_duration(usage.ru_stime);
  r.peak_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    r.end = r.exit_code == 0 ? R::kSucceeded : R::kFailed;
    r.message = exit_message(r.exit_code);
  } else if (WIFSIGNALED(status)) {
    r.end = R::kFailed;
    r.signal = WTERMSIG(status);
    r.message = "killed by signal " + signal_name(r.signal) + " (" + std::to_string(r.signal) +
                ")" + (WCOREDUMP(status) ? ", core dumped" : "");
  }
  if (a.stop != LocalAttempt::Stop::kNone) {
    const bool cancelled = a.stop == LocalAttempt::Stop::kCancelled;
    r.end = cancelled ? R::kCancelled : R::kTimedOut;
    r.message =
        (cancelled ? std::string("cancelled")
                   : "timed out after " + units::format_limit(a.spec.timeout)) +
        ": sent SIGTERM to its process group" +
        (a.sent_kill
             ? ", SIGKILL after " + units::format_limit(a.spec.kill_grace) + " grace"
             : ", which ended within the " + units::format_limit(a.spec.kill_grace) + " grace");
  } else if (!r.succeeded()) {
    r.message += full_disk_hint(a.spec.stdout_path);
    if (!a.shared_log) r.message += full_disk_hint(a.spec.stderr_path);
  }
  return r;
}

}  // namespace

std::vector<std::string> split_plain_command(std::string_view command) {
  std::vector<std::string> argv;
  std::string word;
  for (const char c : command) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) argv.push_back(std::exchange(word, {}));
    } else if (plain_word_char(c)) {
      word += c;
    } else {
      return {};
    }
  }
  if (!word.empty()) argv.push_back(std::move(word));
  // `NAME=value cmd` is an assignment to the shell; a leading '-' or '=' is no command name.
  if (argv.empty() || argv[0].find('=') != std::string::npos || argv[0][0] == '-') return {};
  // Builtins and reserved words only the shell knows (or that only mean something in it).
  static constexpr std::string_view kShellOnly[] = {
      ".",      "alias",    "break",   "case",   "cd",    "continue", "do",     "done",
      "elif",   "else",     "esac",    "eval",   "exec",  "exit",     "export", "fi",
      "for",    "function", "getopts", "hash",   "if",    "local",    "read",   "readonly",
      "return", "set",      "shift",   "source", "then",  "times",    "trap",   "type",
      "ulimit", "umask",    "unalias", "unset",  "until", "wait",     "while"};
  for (std::string_view w : kShellOnly) {
    if (argv[0] == w) return {};
  }
  return argv;
}

struct LocalBackend::State {
  std::mutex mu;
  std::unordered_map<std::uint64_t, std::unique_ptr<LocalAttempt>> attempts;  // guarded by mu
  std::vector<std::uint64_t> stop_requests;                                   // guarded by mu
  bool kill_all_requested = false;                                            // guarded by mu
  bool shutdown = false;                                                      // guarded by mu
  std::uint64_t next_id = 1;                                                  // guarded by mu
  std::atomic<std::size_t> running{0};
  UniqueFd epoll;
  UniqueFd wake;
  std::string host = host_name();
  std::thread thread;

  void wake_up() const {
    const std::uint64_t one = 1;
    if (::write(wake.get(), &one, sizeof one) < 0) {
      // EAGAIN: the counter is already non-zero, the loop wakes anyway.
    }
  }
  void loop();
};

void LocalBackend::State::loop() {
  constexpr std::uint64_t kWakeId = 0;
  std::vector<epoll_event> events(256);
  for (;;) {
    int timeout_ms = -1;
    {
      std::lock_guard lock(mu);
      if (shutdown && attempts.empty()) return;
      const TimePoint now = std::chrono::steady_clock::now();
      for (const auto& [id, a] : attempts) {
        for (const std::optional<TimePoint>& t : {a->deadline, a->kill_at}) {
          if (!t) continue;
          const auto left = std::chrono::ceil<std::chrono::milliseconds>(*t - now).count();
          const int ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
          timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
        }
      }
    }
    const int n =
        ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) return;  // cannot happen with a valid epoll fd
    std::vector<std::pair<std::unique_ptr<LocalAttempt>, AttemptResult>> ended;
    {
      std::lock_guard lock(mu);
      const TimePoint now = std::chrono::steady_clock::now();
      for (std::uint64_t id : std::exchange(stop_requests, {})) {
        if (auto it = attempts.find(id); it != attempts.end()) {
          send_term(*it->second, LocalAttempt::Stop::kCancelled, now);
        }
      }
      for (auto& [id, a] : attempts) {
        if (kill_all_requested) {
          if (a->stop == LocalAttempt::Stop::kNone) a->stop = LocalAttempt::Stop::kCancelled;
          if (!a->sent_kill) ::kill(-a->pid, SIGKILL);
          a->sent_kill = true;
          a->kill_at.reset();
        }
        if (a->deadline && *a->deadline <= now) {
          a->deadline.reset();
          send_term(*a, LocalAttempt::Stop::kTimedOut, now);
        }
        if (a->kill_at && *a->kill_at <= now) {
          a->kill_at.reset();
          ::kill(-a->pid, SIGKILL);
          a->sent_kill = true;
        }
      }
      kill_all_requested = false;
      for (int i = 0; i < std::max(n, 0); ++i) {
        const std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
        if (id == kWakeId) {
          std::uint64_t count = 0;
          if (::read(wake.get(), &count, sizeof count) < 0) {
            // EAGAIN: another wake-up read it first.
          }
          continue;
        }
        auto it = attempts.find(id);
        if (it == attempts.end()) continue;
        LocalAttempt& a = *it->second;
        int status = 0;
        rusage usage{};
        pid_t r = 0;
        do {
          r = ::wait4(a.pid, &status, WNOHANG, &usage);
        } while (r < 0 && errno == EINTR);
        if (r == 0) continue;     // not ended yet (spurious)
        ::kill(-a.pid, SIGKILL);  // the rest of the group; the id was ours until the reap
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, a.pidfd.get(), nullptr);
        AttemptResult result;
        if (r < 0) {
          result.end = AttemptResult::End::kFailed;
          result.message =
              "lost track of the process: something else in this program reaped it (SIGCHLD "
              "ignored, or wait()/waitpid(-1) in another thread)";
        } else {
          result = result_of(a, status, usage, now);
        }
        ended.emplace_back(std::move(it->second), std::move(result));
        attempts.erase(it);
      }
    }
    for (auto& [a, result] : ended) {
      a->on_stop.reset();  // outside the lock: it waits for a stop callback in progress
      running.fetch_sub(1, std::memory_order_relaxed);
      a->callbacks.ended(std::move(result));
    }
  }
}

LocalBackend::LocalBackend() : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  s.wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s.epoll || !s.wake) {
    throw StorageError("LocalBackend: cannot create an epoll or eventfd descriptor: " +
                       errno_text(errno) + " — raise the open-file limit (ulimit -n)");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_ADD, s.wake.get(), &ev);
  s.thread = std::thread([&s] { s.loop(); });
}

LocalBackend::~LocalBackend() {
  {
    std::lock_guard lock(state_->mu);
    state_->shutdown = true;
    state_->kill_all_requested = !state_->attempts.empty();
  }
  state_->wake_up();
  state_->thread.join();
}

std::size_t LocalBackend::running() const {
  return state_->running.load(std::memory_order_relaxed);
}

void LocalBackend::kill_all() {
  {
    std::lock_guard lock(state_->mu);
    state_->kill_all_requested = true;
  }
  state_->wake_up();
}

void LocalBackend::start(AttemptSpec spec, std::stop_token stop, AttemptCallbacks callbacks) {
  if (!callbacks.ended) throw InvalidArgumentError("LocalBackend::start: no `ended` callback");
  CommandSpec as_command{.command = spec.command,
                         .env = spec.env,
                         .cwd = spec.cwd,
                         .timeout = spec.timeout,
                         .kill_grace = spec.kill_grace};
  validate(as_command);
  auto fail_to_start = [&](std::string message) {
    AttemptResult r;
    r.end = AttemptResult::End::kFailedToStart;
    r.message = std::move(message);
    callbacks.ended(std::move(r));
  };
  if (stop.stop_requested()) {
    AttemptResult r;
    r.end = AttemptResult::End::kCancelled;
    r.message = "cancelled before it started";
    callbacks.ended(std::move(r));
    return;
  }
  if (!spec.cwd.empty()) {
    std::error_code ec;
    const auto st = std::filesystem::status(spec.cwd, ec);
    if (!std::filesystem::exists(st)) {
      return fail_to_start("working directory " + spec.cwd.string() + " does not exist");
    }
    if (!std::filesystem::is_directory(st)) {
      return fail_to_start("working directory " + spec.cwd.string() + " is not a directory");
    }
  }
  auto a = std::make_unique<LocalAttempt>();
  auto out_log = open_log(spec.stdout_path);
  if (auto* err = std::get_if<std::string>(&out_log)) return fail_to_start(std::move(*err));
  a->out_fd = std::move(std::get<UniqueFd>(out_log));
  auto err_log = open_log(spec.stderr_path);
  if (auto* err = std::get_if<std::string>(&err_log)) return fail_to_start(std::move(*err));
  a->err_fd = std::move(std::get<UniqueFd>(err_log));
  a->shared_log = same_file(a->out_fd.get(), a->err_fd.get());
  const int err_target = a->shared_log ? a->out_fd.get() : a->err_fd.get();

  SpawnSetup setup;
  ::posix_spawnattr_setflags(
      &setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&setup.attr, 0);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  sigset_t all;
  sigfillset(&all);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);
  ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions, a->out_fd.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, err_target, STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!spec.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());

  std::vector<std::string> args = split_plain_command(spec.command);
  const bool direct = !args.empty();
  if (!direct) args = {"/bin/sh", "-c", spec.command};
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = build_environment(as_command);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  a->started = std::chrono::steady_clock::now();
  pid_t pid = 0;
  // posix_spawnp searches the PATH of this process; the command's env does not change it.
  const int spawn_err =
      direct ? ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data())
             : ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  if (spawn_err != 0) {
    const std::string where = spec.cwd.empty() ? "" : " in " + spec.cwd.string();
    return fail_to_start("cannot start " + args[0] + where + ": " + errno_text(spawn_err) +
                         (direct && spawn_err == ENOENT ? " (not found in PATH)" : ""));
  }
  a->pid = pid;
  // The child has its own copies: holding ours would make every later spawn copy and close
  // two more descriptors per running attempt (quadratic with thousands in flight).
  a->out_fd = UniqueFd();
  a->err_fd = UniqueFd();
  a->pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!a->pidfd) {
    const int e = errno;
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return fail_to_start("cannot watch process " + std::to_string(pid) +
                         " (pidfd_open: " + errno_text(e) +
                         "); killed it — Linux 5.3 or later is needed, and free descriptors");
  }
  if (callbacks.started) {
    try {
      callbacks.started(Placement{.backend = "local", .pid = pid, .nodes = state_->host});
    } catch (...) {
      ::kill(-pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      throw;
    }
  }
  if (spec.timeout > Duration::zero()) a->deadline = a->started + spec.timeout;
  a->spec = std::move(spec);
  a->callbacks = std::move(callbacks);
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    a->id = s.next_id++;
  }
  // Registered before the event thread can see the attempt (it resets it before dropping the
  // attempt); a stop already requested runs it right here, and is also checked below.
  const bool stop_possible = stop.stop_possible();
  a->on_stop = std::make_unique<std::stop_callback<std::function<void()>>>(
      stop, std::function<void()>([&s, id = a->id] {
        {
          std::lock_guard lock(s.mu);
          s.stop_requests.push_back(id);
        }
        s.wake_up();
      }));
  {
    std::lock_guard lock(s.mu);
    if (stop_possible && stop.stop_requested()) {
      send_term(*a, LocalAttempt::Stop::kCancelled, std::chrono::steady_clock::now());
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = a->id;
    ::epoll_ctl(s.epoll.get(), EPOLL_CTL_ADD, a->pidfd.get(), &ev);
    s.running.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t id = a->id;
    s.attempts.emplace(id, std::move(a));
  }
  s.wake_up();  // a new deadline, perhaps
}

}  // namespace taskloom::backends
