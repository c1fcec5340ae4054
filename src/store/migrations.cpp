// Numbered schema migrations. The schema version is SQLite's `PRAGMA user_version`, written in
// the same transaction as the migration it records, so a crash leaves either the old or the
// new schema. Never edit a released migration: add the next one.
#include <array>
#include <string>

#include "taskloom/core/error.hpp"

#include "store/detail/store_state.hpp"

namespace taskloom::store::detail {
namespace {

// kMigrations[i] takes the schema from version i to i + 1.
constexpr std::array<const char*, RunStore::kSchemaVersion> kMigrations{
    // 1: runs, their tasks, every attempt and every transition.
    R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  workflow_name TEXT    NOT NULL,
  workflow_path TEXT    NOT NULL,
  fingerprint   TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  message       TEXT    NOT NULL DEFAULT '',
  created_ms    INTEGER NOT NULL,
  started_ms    INTEGER,
  ended_ms      INTEGER
);
CREATE INDEX runs_by_workflow ON runs (workflow_path, id);
CREATE TABLE tasks (
  run_id          INTEGER NOT NULL REFERENCES runs (id),
  task_id         TEXT    NOT NULL,
  task_group      TEXT    NOT NULL DEFAULT '',
  position        INTEGER NOT NULL,
  status          TEXT    NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  message         TEXT    NOT NULL DEFAULT '',
  skipped_because TEXT    NOT NULL DEFAULT '',
  updated_ms      INTEGER NOT NULL,
  PRIMARY KEY (run_id, task_id)
) WITHOUT ROWID;
CREATE TABLE attempts (
  run_id      INTEGER NOT NULL,
  task_id     TEXT    NOT NULL,
  number      INTEGER NOT NULL,
  status      TEXT    NOT NULL,
  pid         INTEGER NOT NULL DEFAULT 0,
  pgid        INTEGER NOT NULL DEFAULT 0,
  stdout_path TEXT    NOT NULL DEFAULT '',
  stderr_path TEXT    NOT NULL DEFAULT '',
  started_ms  INTEGER NOT NULL,
  ended_ms    INTEGER,
  exit_code   INTEGER,
  signal      INTEGER,
  wall_us     INTEGER NOT NULL DEFAULT 0,
  user_us     INTEGER NOT NULL DEFAULT 0,
  sys_us      INTEGER NOT NULL DEFAULT 0,
  peak_rss_kb INTEGER NOT NULL DEFAULT 0,
  message     TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task_id, number),
  FOREIGN KEY (run_id, task_id) REFERENCES tasks (run_id, task_id)
) WITHOUT ROWID;
CREATE INDEX attempts_open ON attempts (run_id) WHERE ended_ms IS NULL;
CREATE TABLE events (
  run_id      INTEGER NOT NULL REFERENCES runs (id),
  seq         INTEGER NOT NULL,
  time_ms     INTEGER NOT NULL,
  task_id     TEXT    NOT NULL,
  from_status TEXT    NOT NULL,
  to_status   TEXT    NOT NULL,
  detail      TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql",
    // 2: cancellation from another process, and the lease that keeps a run to one runner.
    R"sql(
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE TABLE leases (
  run_id       INTEGER PRIMARY KEY REFERENCES runs (id),
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  acquired_ms  INTEGER NOT NULL,
  heartbeat_ms INTEGER NOT NULL,
  ttl_ms       INTEGER NOT NULL
);
)sql",
    // 3: where each attempt ran: the backend, a cluster job id, the node(s).
    R"sql(
ALTER TABLE attempts ADD COLUMN backend TEXT NOT NULL DEFAULT 'local';
ALTER TABLE attempts ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN nodes TEXT NOT NULL DEFAULT '';
)sql",
    // 4: the targets a run was asked for, one per line (empty: the whole workflow).
    R"sql(
ALTER TABLE runs ADD COLUMN targets TEXT NOT NULL DEFAULT '';
)sql",
};

int read_version(Database& db) {
  Statement s = db.prepare("PRAGMA user_version", "reading the schema version");
  s.step();
  return static_cast<int>(s.int64(0));
}

void refuse_newer(Database& db, int version) {
  if (version > RunStore::kSchemaVersion) {
    throw StorageError(db.file() + ": schema version " + std::to_string(version) +
                       " is newer than this taskloom (knows up to " +
                       std::to_string(RunStore::kSchemaVersion) +
                       ") — upgrade taskloom or use another --db");
  }
}

}  // namespace

void migrate(Database& db, bool create) {
  int version = read_version(db);
  refuse_newer(db, version);
  if (version == 0 && !create) {
    throw InvalidArgumentError(db.file() +
                               " is not a taskloom database (an SQLite file without its tables) — "
                               "pass the database `taskloom run` wrote, or --db PATH");
  }
  while (version < RunStore::kSchemaVersion) {
    const std::string op = "migrating the schema to version " + std::to_string(version + 1);
    WriteTransaction tx(db, op);
    // Another process may have migrated between our read and our lock: read again under it.
    version = read_version(db);
    refuse_newer(db, version);
    if (version >= RunStore::kSchemaVersion) break;
    db.exec(kMigrations[static_cast<std::size_t>(version)], op);
    ++version;
    db.exec(("PRAGMA user_version = " + std::to_string(version)).c_str(), op);
    tx.commit();
  }
}

}  // namespace taskloom::store::detail
