// store::Tables (store/copy/copy.h) over a SQL engine's connection, written once for both
// engines: keyset scans in key order and multi-row inserts-or-replacements. An engine gives the
// SQL that differs (how to list a table's columns, how to begin a snapshot and a write). Private
// to store/ and its engines.
#ifndef RINGO_STORE_SQL_TABLES_H_
#define RINGO_STORE_SQL_TABLES_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "store/copy/copy.h"

namespace ringo::store {

struct TablesSql {
  std::string describe;        // for messages
  std::string tables;          // one row per table, its name first
  std::string columns;         // one `?`: the table name; one row per column, its name first
  std::string begin_snapshot;  // a read transaction
  std::string begin_write;     // a write transaction
};

template <typename Db>
class SqlTables final : public Tables {
 public:
  SqlTables(std::unique_ptr<Db> db, TablesSql sql) : db_(std::move(db)), sql_(std::move(sql)) {}

  std::string Describe() const override { return sql_.describe; }
  Status BeginSnapshot() override { return db_->ExecScript(sql_.begin_snapshot.c_str()); }
  Status EndSnapshot() override { return db_->ExecScript("COMMIT"); }

  Result<std::vector<std::string>> TableNames() override { return Names(sql_.tables, nullptr); }

  Result<std::vector<std::string>> Columns(const std::string& table) override {
    return Names(sql_.columns, &table);
  }

  Status Scan(const Table& t, const Row& after, int64_t limit, std::vector<Row>* rows) override {
    ASSIGN_OR_RETURN(auto stmt, db_->PrepareUncached(ScanSql(t, !after.empty())));
    int i = 1;
    for (const CopyValue& v : after) Bind(*stmt, i++, v);
    stmt->Bind(i, limit);
    Status s;
    while (stmt->Step(&s)) {
      Row row;
      row.reserve(t.columns.size());
      for (size_t c = 0; c < t.columns.size(); ++c) row.push_back(Read(*stmt, t.columns[c], c));
      rows->push_back(std::move(row));
    }
    return s;
  }

  Status Upsert(const Table& t, const std::vector<Row>& rows) override {
    RETURN_IF_ERROR(db_->ExecScript(sql_.begin_write.c_str()));
    Status s = UpsertAll(t, rows);
    if (!s.ok()) {
      (void)db_->ExecScript("ROLLBACK");
      return s;
    }
    return db_->ExecScript("COMMIT");
  }

 private:
  using Stmt = typename Db::Statement;

  // The first column of every row of `sql` (with `arg` bound to its `?`, when given).
  Result<std::vector<std::string>> Names(const std::string& sql, const std::string* arg) {
    ASSIGN_OR_RETURN(auto stmt, db_->PrepareUncached(sql));
    if (arg) stmt->Bind(1, *arg);
    std::vector<std::string> names;
    Status s;
    while (stmt->Step(&s)) names.emplace_back(stmt->Text(0));
    RETURN_IF_ERROR(s);
    return names;
  }

  static std::string Join(const Table& t, bool keys_only, const char* sep) {
    std::string out;
    for (const Column& c : t.columns) {
      if (keys_only && !c.key) break;
      out += (out.empty() ? "" : sep) + c.name;
    }
    return out;
  }

  static std::string Marks(size_t n) {
    std::string out = "(";
    for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out + ")";
  }

  static std::string ScanSql(const Table& t, bool after) {
    std::string keys = Join(t, true, ", ");
    size_t nkeys = static_cast<size_t>(
        std::count_if(t.columns.begin(), t.columns.end(), [](const Column& c) { return c.key; }));
    return "SELECT " + Join(t, false, ", ") + " FROM " + t.name +
           (after ? " WHERE (" + keys + ") > " + Marks(nkeys) : "") + " ORDER BY " + keys +
           " LIMIT ?";
  }

  static std::string UpsertSql(const Table& t, size_t rows) {
    std::string sql = "INSERT INTO " + t.name + " (" + Join(t, false, ", ") + ") VALUES ";
    for (size_t r = 0; r < rows; ++r) sql += (r ? ", " : "") + Marks(t.columns.size());
    sql += " ON CONFLICT (" + Join(t, true, ", ") + ") DO ";
    std::string set;
    for (const Column& c : t.columns) {
      if (!c.key) set += (set.empty() ? "" : ", ") + c.name + " = excluded." + c.name;
    }
    return sql + (set.empty() ? "NOTHING" : "UPDATE SET " + set);
  }

  // Statements of at most ~500 rows and 30,000 values, within both engines' limits.
  Status UpsertAll(const Table& t, const std::vector<Row>& rows) {
    const size_t per = std::max<size_t>(1, std::min<size_t>(500, 30000 / t.columns.size()));
    for (size_t first = 0; first < rows.size(); first += per) {
      size_t n = std::min(per, rows.size() - first);
      ASSIGN_OR_RETURN(auto stmt, db_->PrepareUncached(UpsertSql(t, n)));
      int i = 1;
      for (size_t r = first; r < first + n; ++r) {
        for (size_t c = 0; c < rows[r].size(); ++c) {
          Bind(*stmt, i++, rows[r][c], t.columns[c].type);
        }
      }
      RETURN_IF_ERROR(stmt->Exec());
    }
    return Status::Ok();
  }

  static void Bind(Stmt& stmt, int i, const CopyValue& v,
                   ColumnType type = ColumnType::kText) {
    if (std::holds_alternative<std::monostate>(v)) {
      stmt.BindNull(i);
    } else if (auto* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i, *n);
    } else if (auto* d = std::get_if<double>(&v)) {
      stmt.BindDouble(i, *d);
    } else if (type == ColumnType::kBytes) {
      BindBytes(stmt, i, std::get<std::string>(v));
    } else {
      stmt.Bind(i, std::string_view(std::get<std::string>(v)));
    }
  }

  static CopyValue Read(Stmt& stmt, const Column& c, size_t col) {
    int i = static_cast<int>(col);
    if (c.nullable && stmt.IsNull(i)) return std::monostate{};
    switch (c.type) {
      case ColumnType::kInt:
        return stmt.Int(i);
      case ColumnType::kReal:
        return stmt.Double(i);
      case ColumnType::kBytes: {
        std::string scratch;
        return std::string(ReadBytes(stmt, i, &scratch));
      }
      case ColumnType::kText:
        break;
    }
    return std::string(stmt.Text(i));
  }

  std::unique_ptr<Db> db_;
  TablesSql sql_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQL_TABLES_H_
