// The PostgreSQL store's documents and event logs (deployments, channels, tokens, telemetry).
#include "common/util.h"
#include "store/postgres/store_impl.h"

namespace ringo::store::pg {

Status PostgresStore::AppendEventTx(Db& db, const std::string& kind, const std::string& key,
                            const std::string& value) {
  int64_t seq = 1;
  {
    ASSIGN_OR_RETURN(
        Stmt * q,
        db.Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE kind = ? AND key = ?"));
    StmtGuard g(*q);
    g->Bind(1, kind).Bind(2, key);
    Status s;
    if (g->Step(&s)) seq = g->Int(0);
    RETURN_IF_ERROR(s);
  }
  ASSIGN_OR_RETURN(
      Stmt * q,
      db.Prepare("INSERT INTO events (kind, key, seq, time, value) VALUES (?, ?, ?, ?, ?)"));
  StmtGuard g(*q);
  g->Bind(1, kind).Bind(2, key).Bind(3, seq).Bind(4, NowMillis()).Bind(5, value);
  return g->Exec();
}

void PostgresStore::PutDocument(std::string kind, std::string key, std::string value,
                                int64_t expected_revision, std::string event,
                                DoneWith<int64_t> done) {
  auto revision = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=](Db& db) -> Status {
        int64_t current = 0;
        {
          ASSIGN_OR_RETURN(
              Stmt * q, db.Prepare("SELECT revision FROM documents WHERE kind = ? AND key = ?"));
          StmtGuard g(*q);
          g->Bind(1, kind).Bind(2, key);
          Status s;
          if (g->Step(&s)) current = g->Int(0);
          RETURN_IF_ERROR(s);
        }
        if (expected_revision >= 0 && current != expected_revision) {
          return FailedPrecondition(kind + " '" + key + "' was changed concurrently (revision " +
                                    std::to_string(current) + ", expected " +
                                    std::to_string(expected_revision) + ")");
        }
        *revision = current + 1;
        ASSIGN_OR_RETURN(
            Stmt * q,
            db.Prepare("INSERT INTO documents (kind, key, value, revision, updated_time) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                       "value = excluded.value, revision = excluded.revision, "
                       "updated_time = excluded.updated_time"));
        {
          StmtGuard g(*q);
          g->Bind(1, kind).Bind(2, key).Bind(3, value).Bind(4, *revision).Bind(5, NowMillis());
          RETURN_IF_ERROR(g->Exec());
        }
        if (!event.empty()) RETURN_IF_ERROR(AppendEventTx(db, kind, key, event));
        return Status::Ok();
      },
      [revision, done](Status s) {
        if (!s.ok()) return done(s);
        done(*revision);
      });
}

Result<Document> PostgresStore::GetDocument(const std::string& kind, const std::string& key) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(
      Stmt * q,
      lease->db->Prepare(
          "SELECT value, revision, updated_time FROM documents WHERE kind = ? AND key = ?"));
  StmtGuard g(*q);
  g->Bind(1, kind).Bind(2, key);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound(kind + " '" + key + "' not found");
  }
  return Document{kind, key, std::string(g->Text(0)), g->Int(1), g->Int(2)};
}

Result<std::vector<Document>> PostgresStore::ListDocuments(const std::string& kind,
                                            const std::string& prefix) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(Stmt * q, lease->db->Prepare(
                                 "SELECT key, value, revision, updated_time FROM documents WHERE "
                                 "kind = ? AND substr(key, 1, ?) = ? ORDER BY key"));
  StmtGuard g(*q);
  g->Bind(1, kind).Bind(2, static_cast<int64_t>(prefix.size())).Bind(3, prefix);
  std::vector<Document> out;
  Status s;
  while (g->Step(&s))
    out.push_back(
        Document{kind, std::string(g->Text(0)), std::string(g->Text(1)), g->Int(2), g->Int(3)});
  RETURN_IF_ERROR(s);
  return out;
}

void PostgresStore::AppendEvent(std::string kind, std::string key, std::string value, Done done) {
  engine_.Submit([=](Db& db) { return AppendEventTx(db, kind, key, value); }, std::move(done));
}

Result<std::vector<Event>> PostgresStore::ListEvents(const std::string& kind,
                                                     const std::string& key, int64_t after_seq,
                                                     int64_t limit) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(Stmt * q, lease->db->Prepare(
                                 "SELECT seq, time, value FROM events WHERE kind = ? AND key = ? "
                                 "AND seq > ? ORDER BY seq LIMIT ?"));
  StmtGuard g(*q);
  g->Bind(1, kind).Bind(2, key).Bind(3, after_seq).Bind(4, limit);
  std::vector<Event> out;
  Status s;
  while (g->Step(&s)) out.push_back(Event{g->Int(0), g->Int(1), std::string(g->Text(2))});
  RETURN_IF_ERROR(s);
  return out;
}

}  // namespace ringo::store::pg
