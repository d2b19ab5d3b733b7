// Row access to a PostgreSQL store for `ringo store copy`.
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/store_impl.h"
#include "store/sql_tables.h"

namespace ringo::store {

std::string DescribePostgres(const std::string& conninfo) {
  if (!IsPostgresUri(conninfo)) return "the PostgreSQL database";
  size_t scheme_end = conninfo.find("://") + 3;
  size_t path = conninfo.find('/', scheme_end);
  size_t at = conninfo.rfind('@', path == std::string::npos ? conninfo.size() : path);
  if (at == std::string::npos || at < scheme_end) return conninfo;
  std::string user = conninfo.substr(scheme_end, at - scheme_end);
  user = user.substr(0, user.find(':'));
  return conninfo.substr(0, scheme_end) + user + "@" + conninfo.substr(at + 1);
}

Result<std::unique_ptr<Tables>> OpenPostgresTables(const std::string& conninfo, bool writable) {
  if (conninfo.empty()) return InvalidArgument("the PostgreSQL store needs a connection string");
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Db> db, pg::Db::Open(conninfo));
  if (writable) RETURN_IF_ERROR(pg::Migrate(*db));
  TablesSql sql{DescribePostgres(conninfo),
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_name <> 'schema_version'",
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = ?",
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pg::kBeginWrite};
  return std::unique_ptr<Tables>(new SqlTables<pg::Db>(std::move(db), std::move(sql)));
}

}  // namespace ringo::store
