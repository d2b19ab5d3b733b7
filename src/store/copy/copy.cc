// CopyTables: schema check, the emptiness rule, chunked copy in key order, verification.
#include "store/copy/copy.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "common/hash.h"

namespace ringo::store {

namespace {

// The key of `row`: its first columns, those of the table's key.
Row KeyOf(const Table& t, const Row& row) {
  size_t n = 0;
  while (n < t.columns.size() && t.columns[n].key) ++n;
  return Row(row.begin(), row.begin() + static_cast<ptrdiff_t>(n));
}

// One value in a form both engines produce alike: type tag, then the value (a double in its
// shortest round-trip form), length-prefixed so no two rows encode the same.
void Encode(const CopyValue& v, std::string* out) {
  char buf[32];
  if (std::holds_alternative<std::monostate>(v)) {
    *out += "N;";
  } else if (auto* i = std::get_if<int64_t>(&v)) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *i);
    *out += "I" + std::string(buf, end) + ";";
  } else if (auto* d = std::get_if<double>(&v)) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
    *out += "R" + std::string(buf, end) + ";";
  } else {
    const std::string& s = std::get<std::string>(v);
    *out += "T" + std::to_string(s.size()) + ":" + s + ";";
  }
}

struct Digest {
  int64_t rows = 0;
  std::string sha256;
};

// Count and SHA-256 of every row of `t` in key order, read in chunks.
Result<Digest> DigestTable(Tables& side, const Table& t, int64_t chunk) {
  Sha256 h;
  Digest d;
  Row after;
  std::vector<Row> rows;
  std::string line;
  for (;;) {
    rows.clear();
    RETURN_IF_ERROR(side.Scan(t, after, chunk, &rows));
    for (const Row& row : rows) {
      line.clear();
      for (const CopyValue& v : row) Encode(v, &line);
      line += "\n";
      h.Update(line);
    }
    d.rows += static_cast<int64_t>(rows.size());
    if (static_cast<int64_t>(rows.size()) < chunk) break;
    after = KeyOf(t, rows.back());
  }
  d.sha256 = h.HexDigest();
  return d;
}

// Every table of `side` is one this ringo knows: a newer ringo's store is not copied in part.
Status CheckTables(Tables& side) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, side.TableNames());
  for (const std::string& name : names) {
    bool known = std::any_of(StoreTables().begin(), StoreTables().end(),
                             [&](const Table& t) { return t.name == name; });
    if (!known) {
      return FailedPrecondition(side.Describe() + " has a table '" + name +
                                "' this ringo does not know (a store of a newer ringo?)");
    }
  }
  return Status::Ok();
}

Status CheckColumns(Tables& side, const Table& t) {
  ASSIGN_OR_RETURN(std::vector<std::string> have, side.Columns(t.name));
  if (have.empty()) {
    return FailedPrecondition(side.Describe() + " has no table '" + t.name +
                              "' (a store of another ringo version?)");
  }
  for (const Column& c : t.columns) {
    if (std::find(have.begin(), have.end(), c.name) == have.end()) {
      return FailedPrecondition(side.Describe() + " has no column '" + t.name + "." + c.name +
                                "' (a store of another ringo version?)");
    }
  }
  return Status::Ok();
}

// A fresh store holds only the Default experiment (made by its first migration).
Status CheckEmpty(Tables& to) {
  for (const Table& t : StoreTables()) {
    std::vector<Row> rows;
    RETURN_IF_ERROR(to.Scan(t, {}, 2, &rows));
    bool only_default = t.name == "experiments" && rows.size() == 1 &&
                        std::get_if<int64_t>(&rows[0][0]) && std::get<int64_t>(rows[0][0]) == 0;
    if (!rows.empty() && !only_default) {
      return FailedPrecondition(to.Describe() + " already holds data (table '" + t.name +
                                "'); copy into an empty store, or pass --resume to continue an "
                                "interrupted copy into it");
    }
  }
  return Status::Ok();
}

Status CopyRows(Tables& from, Tables& to, const Table& t, const CopyOptions& o) {
  Row after;
  std::vector<Row> rows;
  int64_t done = 0;
  for (;;) {
    rows.clear();
    RETURN_IF_ERROR(from.Scan(t, after, o.chunk_rows, &rows));
    if (!rows.empty()) RETURN_IF_ERROR(to.Upsert(t, rows));
    done += static_cast<int64_t>(rows.size());
    if (o.progress) o.progress(t.name, done);
    if (static_cast<int64_t>(rows.size()) < o.chunk_rows) return Status::Ok();
    after = KeyOf(t, rows.back());
  }
}

// Copies one table unless it already verifies, then verifies it.
Result<TableReport> CopyTable(Tables& from, Tables& to, const Table& t, const CopyOptions& o) {
  TableReport r;
  r.table = t.name;
  ASSIGN_OR_RETURN(Digest src, DigestTable(from, t, o.chunk_rows));
  ASSIGN_OR_RETURN(Digest dst, DigestTable(to, t, o.chunk_rows));
  r.rows = src.rows;
  r.sha256 = src.sha256;
  if (src.rows == dst.rows && src.sha256 == dst.sha256) {
    r.skipped = true;
    return r;
  }
  RETURN_IF_ERROR(CopyRows(from, to, t, o));
  ASSIGN_OR_RETURN(dst, DigestTable(to, t, o.chunk_rows));
  if (dst.rows != src.rows || dst.sha256 != src.sha256) {
    return FailedPrecondition("table '" + t.name + "' does not verify after the copy: " +
                              std::to_string(src.rows) + " rows in " + from.Describe() + ", " +
                              std::to_string(dst.rows) + " in " + to.Describe() +
                              (dst.rows == src.rows ? " (contents differ)" : ""));
  }
  return r;
}

}  // namespace

Result<std::vector<TableReport>> CopyTables(Tables& from, Tables& to, const CopyOptions& options) {
  if (options.chunk_rows < 2) return InvalidArgument("chunk_rows must be at least 2");
  RETURN_IF_ERROR(CheckTables(from));
  for (const Table& t : StoreTables()) {
    RETURN_IF_ERROR(CheckColumns(from, t));
    RETURN_IF_ERROR(CheckColumns(to, t));
  }
  if (!options.resume) RETURN_IF_ERROR(CheckEmpty(to));
  RETURN_IF_ERROR(from.BeginSnapshot());
  std::vector<TableReport> reports;
  for (const Table& t : StoreTables()) {
    auto r = CopyTable(from, to, t, options);
    if (!r.ok()) {
      (void)from.EndSnapshot();
      return r.status();
    }
    reports.push_back(std::move(*r));
  }
  RETURN_IF_ERROR(from.EndSnapshot());
  return reports;
}

}  // namespace ringo::store
