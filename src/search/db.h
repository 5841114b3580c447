#pragma once
// A thin RAII layer over SQLite: a connection, prepared statements, transactions. Every
// SQLite failure becomes a flops::Error naming the database file and SQLite's message.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace flops::search {

class Db;

class Stmt {
 public:
  Stmt(Db& db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, const void* data, size_t n);
  Stmt& bind_null(int i);
  // true while a row is available; false when done (then the statement is reset).
  bool step();
  // Runs a statement that returns no rows, then resets it for the next bindings.
  void run();
  void reset();

  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string_view blob(int col) const;  // valid until the next step
  bool is_null(int col) const;

 private:
  Db* db_;
  sqlite3_stmt* st_ = nullptr;
};

class Db {
 public:
  // Opens (create = true: creates when missing) in WAL mode. Fails with the path and reason.
  Db(const std::string& path, bool create);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const char* sql);
  void begin() { exec("BEGIN IMMEDIATE"); }
  void commit() { exec("COMMIT"); }
  void rollback();
  int64_t last_insert_rowid() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail_sqlite(const char* what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A transaction that rolls back unless committed (an exception leaves the last committed state).
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) { db_.begin(); }
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace flops::search
