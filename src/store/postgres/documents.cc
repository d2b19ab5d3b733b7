// The PostgreSQL store's documents and event logs (deployments, channels, tokens, telemetry), over
// store/documents_sql.h.
#include "store/documents_sql.h"
#include "store/postgres/store_impl.h"

namespace ringo::store::pg {

void PostgresStore::PutDocument(std::string kind, std::string key, std::string value,
                                int64_t expected_revision, std::string event,
                                DoneWith<int64_t> done) {
  auto revision = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=](Db& db) -> Status {
        ASSIGN_OR_RETURN(*revision,
                         documents::Put(db, kind, key, value, expected_revision, event));
        return Status::Ok();
      },
      [revision, done](Status s) {
        if (!s.ok()) return done(s);
        done(*revision);
      });
}

void PostgresStore::DeleteDocument(std::string kind, std::string key, int64_t expected_revision,
                              Done done) {
  engine_.Submit([=](Db& db) { return documents::Delete(db, kind, key, expected_revision); },
                 std::move(done));
}

Result<Document> PostgresStore::GetDocument(const std::string& kind, const std::string& key) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::Get(*lease->db, kind, key);
}

Result<std::vector<Document>> PostgresStore::ListDocuments(const std::string& kind,
                                                           const std::string& prefix) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::List(*lease->db, kind, prefix);
}

void PostgresStore::AppendEvent(std::string kind, std::string key, std::string value, Done done) {
  engine_.Submit([=](Db& db) { return documents::AppendEvent(db, kind, key, value); },
                 std::move(done));
}

Result<std::vector<Event>> PostgresStore::ListEvents(const std::string& kind,
                                                     const std::string& key, int64_t after_seq,
                                                     int64_t limit) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::ListEvents(*lease->db, kind, key, after_seq, limit);
}

}  // namespace ringo::store::pg
