// SQL of documents and event logs, shared by the SQL engines: function templates over an
// engine's connection type `Db` (the vocabulary of registry_sql.h: Prepare, Statement, Guard).
// Private to store/ and its engines.
#ifndef RINGO_STORE_DOCUMENTS_SQL_H_
#define RINGO_STORE_DOCUMENTS_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/util.h"
#include "store/store.h"

namespace ringo::store::documents {

// The refusal of a write made at a revision the document no longer has.
inline Status ChangedConcurrently(const std::string& kind, const std::string& key,
                                  int64_t current, int64_t expected) {
  return FailedPrecondition(kind + " '" + key + "' was changed concurrently (revision " +
                            std::to_string(current) + ", expected " + std::to_string(expected) +
                            ")");
}

// Appends `value` to the (kind, key) log as the next sequence number (1, 2, ...). The caller's
// transaction must be the only writer of the log (the engines' single writer).
template <typename Db>
Status AppendEvent(Db& db, const std::string& kind, const std::string& key,
                   const std::string& value) {
  int64_t seq = 1;
  {
    ASSIGN_OR_RETURN(
        auto* q,
        db.Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE kind = ? AND key = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, kind).Bind(2, key);
    Status s;
    if (g->Step(&s)) seq = g->Int(0);
    RETURN_IF_ERROR(s);
  }
  ASSIGN_OR_RETURN(
      auto* q,
      db.Prepare("INSERT INTO events (kind, key, seq, time, value) VALUES (?, ?, ?, ?, ?)"));
  typename Db::Guard g(*q);
  g->Bind(1, kind).Bind(2, key).Bind(3, seq).Bind(4, NowMillis()).Bind(5, value);
  return g->Exec();
}

// Writes a document (Store::PutDocument's contract) and, with `event` non-empty, its event, in
// the caller's transaction. Returns the new revision; kFailedPrecondition when
// `expected_revision` >= 0 differs from the stored one (0: absent).
template <typename Db>
Result<int64_t> Put(Db& db, const std::string& kind, const std::string& key,
                    const std::string& value, int64_t expected_revision,
                    const std::string& event) {
  int64_t current = 0;
  {
    ASSIGN_OR_RETURN(auto* q,
                     db.Prepare("SELECT revision FROM documents WHERE kind = ? AND key = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, kind).Bind(2, key);
    Status s;
    if (g->Step(&s)) current = g->Int(0);
    RETURN_IF_ERROR(s);
  }
  if (expected_revision >= 0 && current != expected_revision) {
    return ChangedConcurrently(kind, key, current, expected_revision);
  }
  int64_t revision = current + 1;
  {
    ASSIGN_OR_RETURN(
        auto* q, db.Prepare("INSERT INTO documents (kind, key, value, revision, updated_time) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                            "value = excluded.value, revision = excluded.revision, "
                            "updated_time = excluded.updated_time"));
    typename Db::Guard g(*q);
    g->Bind(1, kind).Bind(2, key).Bind(3, value).Bind(4, revision).Bind(5, NowMillis());
    RETURN_IF_ERROR(g->Exec());
  }
  if (!event.empty()) RETURN_IF_ERROR(AppendEvent(db, kind, key, event));
  return revision;
}

// kNotFound when there is no such document.
template <typename Db>
Result<Document> Get(Db& db, const std::string& kind, const std::string& key) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT value, revision, updated_time FROM documents "
                                       "WHERE kind = ? AND key = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, kind).Bind(2, key);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound(kind + " '" + key + "' not found");
  }
  return Document{kind, key, std::string(g->Text(0)), g->Int(1), g->Int(2)};
}

// Store::DeleteDocument's contract, in the caller's transaction.
template <typename Db>
Status Delete(Db& db, const std::string& kind, const std::string& key, int64_t expected_revision) {
  ASSIGN_OR_RETURN(Document d, Get(db, kind, key));
  if (expected_revision >= 0 && d.revision != expected_revision) {
    return ChangedConcurrently(kind, key, d.revision, expected_revision);
  }
  ASSIGN_OR_RETURN(auto* q, db.Prepare("DELETE FROM documents WHERE kind = ? AND key = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, kind).Bind(2, key);
  return g->Exec();
}

// Documents of `kind` whose key starts with `prefix` (compared as bytes, so % and _ are
// literal), in key order.
template <typename Db>
Result<std::vector<Document>> List(Db& db, const std::string& kind, const std::string& prefix) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT key, value, revision, updated_time FROM documents "
                                       "WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key"));
  typename Db::Guard g(*q);
  g->Bind(1, kind).Bind(2, static_cast<int64_t>(prefix.size())).Bind(3, prefix);
  std::vector<Document> out;
  Status s;
  while (g->Step(&s)) {
    out.push_back(
        Document{kind, std::string(g->Text(0)), std::string(g->Text(1)), g->Int(2), g->Int(3)});
  }
  RETURN_IF_ERROR(s);
  return out;
}

// Events of (kind, key) after `after_seq`, oldest first, at most `limit`.
template <typename Db>
Result<std::vector<Event>> ListEvents(Db& db, const std::string& kind, const std::string& key,
                                      int64_t after_seq, int64_t limit) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT seq, time, value FROM events WHERE kind = ? AND "
                                       "key = ? AND seq > ? ORDER BY seq LIMIT ?"));
  typename Db::Guard g(*q);
  g->Bind(1, kind).Bind(2, key).Bind(3, after_seq).Bind(4, limit);
  std::vector<Event> out;
  Status s;
  while (g->Step(&s)) out.push_back(Event{g->Int(0), g->Int(1), std::string(g->Text(2))});
  RETURN_IF_ERROR(s);
  return out;
}

}  // namespace ringo::store::documents

#endif  // RINGO_STORE_DOCUMENTS_SQL_H_
