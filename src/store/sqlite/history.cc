// The SQLite engine's read of a metric history page: its chunks and rows merged.
#include "store/series_sql.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

Result<std::string> SqliteEngine::ReadHistory(Db& db, const std::string& run_id,
                                              const std::string& key, int64_t max_results,
                                              int64_t offset, const Store::PointVisitor& visit) {
  ASSIGN_OR_RETURN(std::vector<series::Point> points, series::Read(db, run_id, key));
  return series::VisitPage(points, max_results, offset, visit);
}

}  // namespace ringo::store
