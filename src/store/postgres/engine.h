// The PostgreSQL write engine, apart from any domain's SQL: one writer thread that applies queued
// writes in shared transactions (group commit, each write under its own savepoint so a failing
// write leaves no trace while its neighbours commit), and a pool of reader connections. Lost
// connections are re-established on the next use. Private to the PostgreSQL store.
#ifndef RINGO_STORE_POSTGRES_ENGINE_H_
#define RINGO_STORE_POSTGRES_ENGINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/postgres/db.h"
#include "store/engine_base.h"
#include "store/store.h"

namespace ringo::store::pg {

// Every writing transaction begins so, holding one lock: one runs at a time per database even
// with several ringo servers. The domain SQL (shared with SQLite, which has a single writer by
// construction) checks names before inserting them and numbers experiments, versions and events
// as MAX + 1; under the lock every statement sees the other servers' committed writes. The
// number is a constant shared by every ringo (the migration lock's plus one).
inline constexpr const char* kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(7234061206)";

class WriteEngine : public EngineBase<Db> {
 public:
  // Starts the writer thread over an open, migrated writer connection. While the server is
  // unreachable, writes fail with kUnavailable after one reconnect attempt per batch, and
  // AcquireReader with kUnavailable when no connection can be made.
  WriteEngine(std::string conninfo, size_t max_ops_per_commit, std::unique_ptr<Db> writer);
  ~WriteEngine() { Shutdown(); }
  // Stops accepting writes, commits what is queued, joins the writer. Idempotent.
  void Shutdown();

 private:
  void WriterLoop();
  void MaybeAnalyze();
  Status RunBatch(std::vector<WriteOp>& batch, std::vector<Status>& results);
  static bool ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  static Status ApplyWithSavepoints(Db& db, std::vector<WriteOp>& batch,
                                    std::vector<Status>& results);

  std::thread writer_thread_;
  std::mutex join_mu_;
  // MaybeAnalyze's state (writer thread only).
  int64_t analyzed_at_writes_ = 0;
  std::chrono::steady_clock::time_point analyzed_at_{};
};

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_ENGINE_H_
