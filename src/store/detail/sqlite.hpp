// A thin RAII layer over the SQLite C API that turns every failure into a taskloom error
// naming the file and the operation. Not thread-safe: StoreState serializes all use.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace taskloom::store::detail {

class Database;

/// A cached prepared statement in use; reset and unbound when it goes out of scope.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt, std::string_view op) noexcept
      : db_(db), stmt_(stmt), op_(op) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::optional<std::int64_t> value);
  Statement& bind_null(int index);

  /// True when a row is ready; false when done. Throws on error.
  bool step();
  /// Steps a statement that returns no rows.
  void run();

  std::int64_t int64(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::string text(int column) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_;
  std::string_view op_;
};

class Database {
 public:
  /// Opens (creating) `file`; throws StorageError.
  explicit Database(std::string file);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::string& file() const noexcept { return file_; }
  sqlite3* handle() noexcept { return db_; }

  /// Throws the taskloom error for SQLite result `rc` during `op`.
  [[noreturn]] void fail(int rc, std::string_view op) const;
  void exec(const char* sql, std::string_view op);
  /// A statement prepared once per connection; `sql` must be a string literal (cache key).
  Statement prepare(const char* sql, std::string_view op);
  std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

 private:
  std::string file_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when left without commit() (errors swallowed: SQLite
/// may already have rolled back, e.g. after SQLITE_FULL).
class WriteTransaction {
 public:
  WriteTransaction(Database& db, std::string_view op);
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction();
  void commit();

 private:
  Database& db_;
  std::string_view op_;
  bool done_ = false;
};

}  // namespace taskloom::store::detail
