// The PostgreSQL engine's read of a metric history page: its chunks and rows merged.
#include "store/postgres/store_impl.h"
#include "store/series_sql.h"

namespace ringo::store::pg {

// A history is a few dozen chunk rows (each up to series::kChunkPoints points) and the points
// not yet compacted, so one result of each is small enough for libpq to hold.
Result<std::string> PostgresEngine::ReadHistory(Db& db, const std::string& run_id,
                                                const std::string& key, int64_t max_results,
                                                int64_t offset, const Store::PointVisitor& visit) {
  ASSIGN_OR_RETURN(std::vector<series::Point> points, series::Read(db, run_id, key));
  return series::VisitPage(points, max_results, offset, visit);
}

}  // namespace ringo::store::pg
