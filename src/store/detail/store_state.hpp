// The state shared by a RunStore and the Leases it handed out: one connection and the mutex
// that serializes every use of it, and the group commit of Durability::kOutcomes and
// kBackground.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "taskloom/store/run_store.hpp"

#include "store/detail/sqlite.hpp"

namespace taskloom::store::detail {

struct StoreState {
  StoreState(std::filesystem::path path, StoreOptions opts)
      : file(std::move(path)), options(std::move(opts)), db(file.string()) {}

  WallTime now() const {
    if (options.wall_clock) return options.wall_clock();
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }

  StoreState(const StoreState&) = delete;
  StoreState& operator=(const StoreState&) = delete;
  ~StoreState();

  /// Called under `mu` right after an outcome's COMMIT: the ticket to pass to make_durable()
  /// once `mu` is released (0, a no-op, unless Durability::kOutcomes or kBackground).
  std::uint64_t outcome_committed() noexcept {
    if (options.durability != Durability::kOutcomes &&
        options.durability != Durability::kBackground) {
      return 0;
    }
    return commits.fetch_add(1, std::memory_order_acq_rel) + 1;
  }
  /// Durability::kBackground: wakes the flusher for the commits made so far, and throws the
  /// error of a background fsync that failed.
  void flush_soon();
  /// Starts the flusher thread (kBackground); the destructor flushes what is left and joins it.
  void start_flusher();
  /// Group commit: returns once the WAL holding commit `ticket` is fsynced. One caller fsyncs
  /// the WAL for every commit made so far; callers that arrive meanwhile wait for that fsync or
  /// start the next one. Called without `mu`, so other threads keep recording meanwhile.
  /// fsync on our own descriptor of the -wal file flushes the file, whoever wrote it.
  void make_durable(std::uint64_t ticket, std::string_view op);

  const std::filesystem::path file;
  const StoreOptions options;
  std::mutex mu;
  Database db;  // guarded by mu

  std::atomic<std::uint64_t> commits{0};  // outcome commits so far (written under mu)
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::uint64_t durable = 0;       // guarded by sync_mu: commits up to this ticket are on disk
  bool syncing = false;            // guarded by sync_mu
  int wal_fd = -1;                 // guarded by sync_mu (set and used only by the syncing caller)
  std::exception_ptr flush_error;  // guarded by sync_mu: a background fsync failed
  bool stopping = false;           // guarded by sync_mu: the flusher ends
  std::thread flusher;             // kBackground only

 private:
  void flush_loop();
};

/// Applies the migrations this build knows; throws StorageError for a newer schema.
/// Brings the schema up to RunStore::kSchemaVersion. With `create` false a database without the
/// schema (user_version 0) is refused instead of given one.
void migrate(Database& db, bool create);

/// The host name of this machine (cached).
const std::string& this_host();

}  // namespace taskloom::store::detail
