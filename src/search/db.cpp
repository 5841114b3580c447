#include "search/db.h"

#include <sqlite3.h>

#include "core/error.h"

namespace flops::search {

Db::Db(const std::string& path, bool create) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    fail("cannot open index '{}': {}", path, msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  sqlite3_extended_result_codes(db_, 1);
  // A file that is not a database shows up at the first read.
  char* err = nullptr;
  if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    fail("'{}' is not a flops index (SQLite: {})", path, msg);
  }
  // WAL + NORMAL: a killed process loses nothing committed; only a power cut can lose the
  // last transactions (never corrupts the file).
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=OFF");
  exec("PRAGMA cache_size=-65536");
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

void Db::fail_sqlite(const char* what) const {
  fail("index '{}': {}: {}", path_, what, db_ ? sqlite3_errmsg(db_) : "closed");
}

void Db::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    fail("index '{}': {} ({})", path_, msg, std::string(sql).substr(0, 60));
  }
}

void Db::rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Transaction::~Transaction() {
  if (!done_) db_.rollback();
}

void Transaction::commit() {
  db_.commit();
  done_ = true;
}

Stmt::Stmt(Db& db, const char* sql) : db_(&db) {
  if (sqlite3_prepare_v2(db.handle(), sql, -1, &st_, nullptr) != SQLITE_OK) db.fail_sqlite("prepare");
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }

Stmt& Stmt::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) db_->fail_sqlite("bind");
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(st_, i, v) != SQLITE_OK) db_->fail_sqlite("bind");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text64(st_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) db_->fail_sqlite("bind");
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  if (sqlite3_bind_blob64(st_, i, n ? data : "", n, SQLITE_TRANSIENT) != SQLITE_OK) db_->fail_sqlite("bind");
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (sqlite3_bind_null(st_, i) != SQLITE_OK) db_->fail_sqlite("bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    reset();
    return false;
  }
  std::string msg = sqlite3_errmsg(db_->handle());
  sqlite3_reset(st_);
  fail("index '{}': {}", db_->path(), msg);
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

int64_t Stmt::int64(int col) const { return sqlite3_column_int64(st_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(st_, col); }
std::string Stmt::text(int col) const {
  const unsigned char* t = sqlite3_column_text(st_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), (size_t)sqlite3_column_bytes(st_, col)) : std::string();
}
std::string_view Stmt::blob(int col) const {
  const void* b = sqlite3_column_blob(st_, col);
  return b ? std::string_view(static_cast<const char*>(b), (size_t)sqlite3_column_bytes(st_, col)) : std::string_view();
}
bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

}  // namespace flops::search
