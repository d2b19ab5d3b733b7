// libpq connection and statement wrappers.
#include "store/postgres/db.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ringo::store::pg {

namespace {

// Notices ("relation already exists, skipping") are expected; libpq would print them.
void IgnoreNotice(void*, const char*) {}

// SQLSTATE classes that mean the server went away or refuses work for now, as opposed to a
// fault in the statement: 08 connection exceptions, 57P operator intervention (shutdown,
// restart), 53 insufficient resources.
bool IsUnavailableState(const char* state) {
  if (state == nullptr) return false;
  std::string_view s(state);
  return s.starts_with("08") || s.starts_with("57P") || s.starts_with("53");
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, end);
}

}  // namespace

std::string NumberPlaceholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  *count = n;
  return out;
}

Stmt::Stmt(Db* db, std::string sql, int params, std::string name)
    : db_(db),
      sql_(std::move(sql)),
      name_(std::move(name)),
      values_(static_cast<size_t>(params)),
      is_null_(static_cast<size_t>(params), true),
      formats_(static_cast<size_t>(params), 0),
      lengths_(static_cast<size_t>(params), 0) {}

Stmt& Stmt::Bind(int index, std::string_view v) {
  // Parameters travel as C strings, and PostgreSQL's text cannot hold NUL anyway: refuse the
  // value rather than store it cut short.
  if (v.find('\0') != std::string_view::npos) has_nul_ = true;
  values_.at(static_cast<size_t>(index - 1)).assign(v.data(), v.size());
  is_null_[static_cast<size_t>(index - 1)] = false;
  formats_[static_cast<size_t>(index - 1)] = 0;
  return *this;
}

Stmt& Stmt::Bind(int index, BinaryParam v) {
  has_nul_ = has_nul_ || v.has_nul;
  size_t i = static_cast<size_t>(index - 1);
  lengths_.at(i) = static_cast<int>(v.bytes.size());
  values_[i] = std::move(v.bytes);
  is_null_[i] = false;
  formats_[i] = 1;
  return *this;
}

Stmt& Stmt::Bind(int index, int64_t v) { return Bind(index, std::to_string(v)); }

Stmt& Stmt::BindDouble(int index, double v) { return Bind(index, FormatDouble(v)); }

bool Stmt::IsBinary(int col) const { return Pq().PQfformat(result_, col) == 1; }

Stmt& Stmt::BindNull(int index) {
  is_null_.at(static_cast<size_t>(index - 1)) = true;
  return *this;
}

void Stmt::Reset() {
  if (result_) Pq().PQclear(result_);
  result_ = nullptr;
  row_ = -1;
  has_nul_ = false;
  for (size_t i = 0; i < values_.size(); ++i) {
    values_[i].clear();
    is_null_[i] = true;
    formats_[i] = 0;
  }
}

Status Stmt::Run() {
  if (has_nul_) {
    return InvalidArgument("values stored in PostgreSQL cannot contain NUL characters");
  }
  std::vector<const char*> params(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    params[i] = is_null_[i] ? nullptr : values_[i].c_str();
  }
  auto exec = [&]() -> PGresult* {
    if (name_.empty()) {
      return Pq().PQexecParams(db_->raw(), sql_.c_str(), static_cast<int>(params.size()),
                               nullptr, params.data(), lengths_.data(), formats_.data(),
                               result_format_);
    }
    // Prepared on the server once per connection: the store's statements repeat, and parsing
    // and planning each one anew cost more server time than running it.
    if (prepared_in_ != db_->generation()) {
      PGresult* prepared = Pq().PQprepare(db_->raw(), name_.c_str(), sql_.c_str(),
                                          static_cast<int>(params.size()), nullptr);
      if (Pq().PQresultStatus(prepared) != PGRES_COMMAND_OK) return prepared;
      Pq().PQclear(prepared);
      prepared_in_ = db_->generation();
    }
    return Pq().PQexecPrepared(db_->raw(), name_.c_str(), static_cast<int>(params.size()),
                               params.data(), lengths_.data(), formats_.data(), result_format_);
  };
  bool idle = Pq().PQtransactionStatus(db_->raw()) == PQTRANS_IDLE;
  result_ = exec();
  if (idle && db_->RetryAfterLostConnection(result_)) result_ = exec();
  ExecStatusType st = Pq().PQresultStatus(result_);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return db_->Error(result_, sql_);
  const char* tuples = Pq().PQcmdTuples(result_);
  db_->set_changes(tuples && *tuples ? std::atoll(tuples) : 0);
  return Status::Ok();
}

bool Stmt::Step(Status* status) {
  if (row_ < 0 && result_ == nullptr) {
    Status s = Run();
    if (!s.ok()) {
      *status = s;
      return false;
    }
  }
  ++row_;
  return row_ < Pq().PQntuples(result_);
}

Status Stmt::Exec() {
  if (result_ == nullptr) return Run();
  return Status::Ok();
}

int64_t Stmt::Int(int col) const {
  const char* p = Pq().PQgetvalue(result_, row_, col);
  int64_t v = 0;
  std::from_chars(p, p + Pq().PQgetlength(result_, row_, col), v);
  return v;
}

double Stmt::Double(int col) const {
  // strtod reads PostgreSQL's NaN, Infinity and -Infinity as well as numbers.
  return std::strtod(Pq().PQgetvalue(result_, row_, col), nullptr);
}

Db::~Db() {
  cache_.clear();
  Pq().PQfinish(conn_);
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& conninfo) {
  // Given before the URI so that its own settings win. The connect timeout keeps a dead server
  // from hanging a request for the OS's TCP timeout.
  // Keepalives and a TCP user timeout turn a server that vanished without closing the
  // connection (host down, network cut) into an error within about half a minute.
  const char* keywords[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout", "application_name",
                            "dbname", nullptr};
  const char* values[] = {"5", "10", "5", "3", "30000", "ringo", conninfo.c_str(), nullptr};
  RETURN_IF_ERROR(LoadLibpq());
  PGconn* conn = Pq().PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) return Internal("postgresql: out of memory");
  if (Pq().PQstatus(conn) != CONNECTION_OK) {
    std::string msg = Pq().PQerrorMessage(conn);
    Pq().PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Unavailable("postgresql: cannot connect: " + msg);
  }
  Pq().PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return std::unique_ptr<Db>(new Db(conn));
}

Status Db::Reconnect() {
  Pq().PQreset(conn_);
  ++generation_;  // the server forgot this connection's prepared statements
  if (Pq().PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable(std::string("postgresql: cannot reconnect: ") +
                       Pq().PQerrorMessage(conn_));
  }
  Pq().PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  return Status::Ok();
}

Result<Stmt*> Db::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  int n = 0;
  std::string numbered = NumberPlaceholders(sql, &n);
  auto owned = std::make_unique<Stmt>(this, std::move(numbered), n,
                                      "ringo_" + std::to_string(cache_.size() + 1));
  Stmt* p = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return p;
}

Result<std::unique_ptr<Stmt>> Db::PrepareUncached(std::string_view sql) {
  int n = 0;
  std::string numbered = NumberPlaceholders(sql, &n);
  return std::make_unique<Stmt>(this, std::move(numbered), n, "");
}

bool Db::RetryAfterLostConnection(PGresult*& result) {
  ExecStatusType st = Pq().PQresultStatus(result);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || Healthy()) return false;
  if (!Reconnect().ok()) return false;
  Pq().PQclear(result);
  result = nullptr;
  return true;
}

Status Db::ExecScript(const char* sql) {
  bool idle = Pq().PQtransactionStatus(conn_) == PQTRANS_IDLE;
  PGresult* r = Pq().PQexec(conn_, sql);
  if (idle && RetryAfterLostConnection(r)) r = Pq().PQexec(conn_, sql);
  ExecStatusType st = Pq().PQresultStatus(r);
  Status s = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? Status::Ok() : Error(r, sql);
  Pq().PQclear(r);
  return s;
}

Status Db::Error(const PGresult* result, std::string_view what) const {
  const char* state = result ? Pq().PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = result ? Pq().PQresultErrorMessage(result) : "";
  if (msg.empty()) msg = Pq().PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string text = "postgresql: " + msg + " (in: " + std::string(what.substr(0, 120)) + ")";
  if (Pq().PQstatus(conn_) != CONNECTION_OK || IsUnavailableState(state)) return Unavailable(text);
  // Class 22, data exceptions: a value PostgreSQL cannot hold (out of range, badly encoded),
  // which is the request's fault rather than the server's.
  if (state != nullptr && std::string_view(state).starts_with("22")) return InvalidArgument(text);
  return Internal(text);
}

namespace {

// Bytes in bytea's hex input form, without its "\x".
void AppendHex(std::string* out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
}

// Element type OIDs, fixed in PostgreSQL's catalog (pg_type.dat); libpq has no header for them.
constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kInt4Oid = 23;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kFloat8Oid = 701;

// Integers travel in network byte order.
void PutUint32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(char((v >> shift) & 0xff));
}

void PutUint64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(char((v >> shift) & 0xff));
}

// A one-dimensional array without nulls as array_recv reads it: dimensions, flags, element
// type, then (length, bytes) per element, each written by `put`. An empty array has no
// dimensions.
template <typename T, typename Put>
BinaryParam Array(uint32_t element_oid, const std::vector<T>& values, const Put& put) {
  BinaryParam p;
  PutUint32(&p.bytes, values.empty() ? 0 : 1);
  PutUint32(&p.bytes, 0);
  PutUint32(&p.bytes, element_oid);
  if (!values.empty()) {
    PutUint32(&p.bytes, static_cast<uint32_t>(values.size()));
    PutUint32(&p.bytes, 1);  // lower bound
  }
  for (const T& v : values) put(&p, v);
  return p;
}

void PutBytes(BinaryParam* p, std::string_view v) {
  PutUint32(&p->bytes, static_cast<uint32_t>(v.size()));
  p->bytes.append(v);
}

}  // namespace

void BindBytes(Stmt& stmt, int index, std::string_view bytes) {
  std::string text = "\\x";
  AppendHex(&text, bytes);
  stmt.Bind(index, text);
}

BinaryParam TextArray(const std::vector<std::string_view>& values) {
  return Array(kTextOid, values, [](BinaryParam* p, std::string_view v) {
    // Refused as a text parameter would be, rather than by the server's encoding check.
    if (v.find('\0') != std::string_view::npos) p->has_nul = true;
    PutBytes(p, v);
  });
}

BinaryParam IntArray(const std::vector<int64_t>& values) {
  return Array(kInt8Oid, values, [](BinaryParam* p, int64_t v) {
    PutUint32(&p->bytes, 8);
    PutUint64(&p->bytes, static_cast<uint64_t>(v));
  });
}

BinaryParam Int4Array(const std::vector<int64_t>& values) {
  return Array(kInt4Oid, values, [](BinaryParam* p, int64_t v) {
    PutUint32(&p->bytes, 4);
    PutUint32(&p->bytes, static_cast<uint32_t>(static_cast<int32_t>(v)));
  });
}

BinaryParam FloatArray(const std::vector<double>& values) {
  return Array(kFloat8Oid, values, [](BinaryParam* p, double v) {
    PutUint32(&p->bytes, 8);
    PutUint64(&p->bytes, std::bit_cast<uint64_t>(v));
  });
}

BinaryParam BytesArray(const std::vector<std::string>& values) {
  return Array(kByteaOid, values, [](BinaryParam* p, const std::string& v) { PutBytes(p, v); });
}

void BindIdArray(Stmt& stmt, int index, std::span<const std::string> ids) {
  std::vector<std::string_view> views(ids.begin(), ids.end());
  stmt.Bind(index, TextArray(views));
}

std::string_view ReadBytes(const Stmt& stmt, int col, std::string* scratch) {
  std::string_view text = stmt.Text(col);
  if (stmt.IsBinary(col)) return text;
  scratch->clear();
  if (text.size() < 2 || text.substr(0, 2) != "\\x" || text.size() % 2) return *scratch;
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  scratch->reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    scratch->push_back(char(nibble(text[i]) << 4 | nibble(text[i + 1])));
  }
  return *scratch;
}

}  // namespace ringo::store::pg
