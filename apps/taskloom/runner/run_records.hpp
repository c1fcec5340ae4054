// apps/taskloom/runner/run_records.hpp — finding the database, and showing what it recorded.
//
//   store::RunStore db = open_database(db_option);   // never creates one
//   std::cout << status_text(db, run);          // header, counts, one row per task
//   std::ofstream(out) << run_json(db, run).dump(2);
//
// Thread-safety: plain functions over a RunStore (whose methods may be called from any thread).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "taskloom/store/run_store.hpp"

namespace taskloom::cli {

/// `.taskloom/taskloom.db` in the directory of `workflow_file`.
std::filesystem::path database_beside(const std::filesystem::path& workflow_file);

/// Remembers that a `taskloom run` from the current directory uses `db`, so that the inspecting
/// commands run here find it: one line in $XDG_STATE_HOME/taskloom/databases (default
/// ~/.local/state; the last 200 kept). Best effort: skipped when that file cannot be written.
void remember_database(const std::filesystem::path& db);

/// The database the inspecting commands read: `option` when not empty, else $TASKLOOM_DB, else
/// `.taskloom/taskloom.db` in the current directory or the nearest parent that has one, else the
/// one the last `taskloom run` from this directory used (said on stderr, as it is not in sight).
/// InvalidArgumentError when none exists. `quiet`: say nothing on stderr.
std::filesystem::path find_database(const std::string& option, bool quiet = false);

/// find_database(option), opened without creating anything (StoreOptions::create false): a
/// missing, empty or foreign file is refused, never turned into a database.
store::RunStore open_database(const std::string& option,
                              store::Durability durability = store::Durability::kOutcomes);

/// The run `id`, or InvalidArgumentError naming the database and how to list its runs.
store::RunRecord require_run(const store::RunStore& db, store::RunId id);

/// The run, its tasks and every attempt (times, exit codes, signals, rusage, log paths).
nlohmann::json run_json(const store::RunStore& db, store::RunId id);

/// For `taskloom status`: the run's header, counts by status, and a table of its tasks.
std::string status_text(const store::RunStore& db, store::RunId id);

/// For `taskloom runs`: one row per run, newest first.
std::string runs_text(const store::RunStore& db, std::size_t limit);

}  // namespace taskloom::cli
