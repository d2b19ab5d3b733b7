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
#include "store/store.h"

namespace ringo::store::pg {

class WriteEngine {
 public:
  // Starts the writer thread over an open, migrated writer connection.
  WriteEngine(std::string conninfo, size_t max_ops_per_commit, std::unique_ptr<Db> writer);
  ~WriteEngine() { Shutdown(); }
  WriteEngine(const WriteEngine&) = delete;
  WriteEngine& operator=(const WriteEngine&) = delete;

  // Queues `apply` for the writer thread; `done` runs there after the commit (or the failure),
  // so it may read back through writer_db(). After Shutdown, done(kUnavailable) at once; while
  // the server is unreachable, done(kUnavailable) after one reconnect attempt per batch.
  void Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done);

  // The writer's connection: only for `done` callbacks of Submit.
  Db& writer_db() { return *writer_db_; }

  // A pooled connection, returned to the pool when the lease ends unless it was lost.
  struct ReaderLease {
    ReaderLease(WriteEngine* e, std::unique_ptr<Db> conn) : engine(e), db(std::move(conn)) {}
    ReaderLease(ReaderLease&& o) noexcept : engine(o.engine), db(std::move(o.db)) {}
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease();

    WriteEngine* engine;
    std::unique_ptr<Db> db;
  };
  // kUnavailable when no connection can be made.
  Result<ReaderLease> AcquireReader();

  StoreStats Stats() const;
  // Stops accepting writes, commits what is queued, joins the writer. Idempotent.
  void Shutdown();

 private:
  struct WriteOp {
    std::function<Status(Db&)> apply;
    std::function<void(Status)> done;
  };

  void WriterLoop();
  void MaybeAnalyze();
  void CommitBatch(std::vector<WriteOp>& batch, std::vector<Status>& results);
  Status RunBatch(std::vector<WriteOp>& batch, std::vector<Status>& results);
  static bool ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  static Status ApplyWithSavepoints(Db& db, std::vector<WriteOp>& batch,
                                    std::vector<Status>& results);

  const std::string conninfo_;
  const size_t max_ops_per_commit_;
  std::unique_ptr<Db> writer_db_;
  std::thread writer_thread_;
  std::mutex mu_;
  std::mutex join_mu_;
  std::condition_variable cv_;
  std::vector<WriteOp> queue_;
  bool stopping_ = false;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Db>> readers_;

  std::atomic<int64_t> queue_depth_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writes_committed_{0};
  // MaybeAnalyze's state (writer thread only).
  int64_t analyzed_at_writes_ = 0;
  std::chrono::steady_clock::time_point analyzed_at_{};
  std::atomic<int64_t> writes_failed_{0};
};

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_ENGINE_H_
