// tests/cli/cli_db.hpp — reading what a `taskloom` process recorded, for assertions.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "taskloom/store/run_store.hpp"

namespace taskloom::cli_test {

/// Task id -> status name of run `run` in the database file.
inline std::map<std::string, std::string> task_statuses(const std::filesystem::path& db_file,
                                                        store::RunId run = 1) {
  std::map<std::string, std::string> m;
  store::RunStore db = store::RunStore::open(db_file);
  for (const auto& t : db.tasks(run)) m[t.id] = std::string(to_string(t.status));
  return m;
}

/// Number of attempts of run `run` that are open (begun, not finished).
inline int open_attempts(const std::filesystem::path& db_file, store::RunId run = 1) {
  if (!std::filesystem::exists(db_file)) return 0;
  store::RunStore db = store::RunStore::open(db_file);
  if (!db.find_run(run)) return 0;
  int n = 0;
  for (const auto& a : db.attempts(run)) n += a.status == store::AttemptStatus::kRunning ? 1 : 0;
  return n;
}

}  // namespace taskloom::cli_test
