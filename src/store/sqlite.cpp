#include "store/detail/sqlite.hpp"

#include <string>
#include <utility>

#include "taskloom/core/error.hpp"

namespace taskloom::store::detail {

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_.fail(rc, op_);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // An empty string_view may have a null data(), which SQLite would store as NULL.
  const char* text = value.data() != nullptr ? value.data() : "";
  const int rc =
      sqlite3_bind_text64(stmt_, index, text, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) db_.fail(rc, op_);
  return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_.fail(rc, op_);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(rc, op_);
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::optional<std::int64_t> Statement::optional_int64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

Database::Database(std::string file) : file_(std::move(file)) {
  const int rc =
      sqlite3_open_v2(file_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StorageError(file_ + ": cannot open the database: " + why);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

void Database::fail(int rc, std::string_view op) const {
  const int primary = rc & 0xff;
  const std::string what(op);
  if (primary == SQLITE_FULL) {
    throw StorageError("disk full while " + what + " in " + file_ +
                       " — free space; nothing recorded so far was lost");
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    throw BusyError(file_ + ": the database stayed locked by another process while " + what +
                    " — retry when it is done, or raise the busy timeout");
  }
  std::string detail = sqlite3_errmsg(db_);
  const std::string generic = sqlite3_errstr(rc);
  if (detail != generic) detail += " (" + generic + ")";
  throw StorageError(file_ + ": " + what + " failed: " + detail);
}

void Database::exec(const char* sql, std::string_view op) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, op);
}

Statement Database::prepare(const char* sql, std::string_view op) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail(rc, op);
    it = cache_.emplace(sql, stmt).first;
  }
  return Statement(*this, it->second, op);
}

WriteTransaction::WriteTransaction(Database& db, std::string_view op) : db_(db), op_(op) {
  db_.exec("BEGIN IMMEDIATE", op_);
}

WriteTransaction::~WriteTransaction() {
  if (!done_ && sqlite3_get_autocommit(db_.handle()) == 0) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void WriteTransaction::commit() {
  const int rc = sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) db_.fail(rc, op_);
  done_ = true;
}

}  // namespace taskloom::store::detail
