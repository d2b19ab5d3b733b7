// The SQLite write engine, apart from any domain's SQL: one writer thread that applies queued
// writes in shared transactions (group commit, each write under its own savepoint so a failing
// write leaves no trace while its neighbours commit), a pool of read-only connections, a
// background WAL checkpointer, and planner statistics kept current. Private to the SQLite store.
#ifndef RINGO_STORE_SQLITE_ENGINE_H_
#define RINGO_STORE_SQLITE_ENGINE_H_

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
#include "store/sqlite/db.h"
#include "store/store.h"

namespace ringo::store {

class WriteEngine {
 public:
  // Starts the writer and checkpoint threads over an open, migrated writer connection.
  WriteEngine(std::string path, size_t max_ops_per_commit, std::unique_ptr<Db> writer);
  ~WriteEngine() { Shutdown(); }
  WriteEngine(const WriteEngine&) = delete;
  WriteEngine& operator=(const WriteEngine&) = delete;

  // Queues `apply` for the writer thread; `done` runs there after the commit (or the failure),
  // so it may read back through writer_db(). After Shutdown, done(kUnavailable) at once.
  void Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done);

  // The writer's connection: only for `done` callbacks of Submit, which run on its thread and
  // see every committed write.
  Db& writer_db() { return *writer_db_; }

  // A pooled read-only connection, returned to the pool when the lease ends.
  struct ReaderLease {
    ReaderLease(WriteEngine* e, std::unique_ptr<Db> conn) : engine(e), db(std::move(conn)) {}
    ReaderLease(ReaderLease&& o) noexcept : engine(o.engine), db(std::move(o.db)) {}
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease();

    WriteEngine* engine;
    std::unique_ptr<Db> db;
  };
  Result<ReaderLease> AcquireReader();

  StoreStats Stats() const;
  // Stops accepting writes, commits what is queued, joins the threads. Idempotent.
  void Shutdown();

 private:
  struct WriteOp {
    std::function<Status(Db&)> apply;
    std::function<void(Status)> done;
  };

  void WriterLoop();
  void CommitBatch(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  void CheckpointLoop();
  void MaybeAnalyze(Db& db, size_t writes);
  static Status ApplyWithSavepoint(Db& db, WriteOp& op);

  const std::string path_;
  const size_t max_ops_per_commit_;
  std::unique_ptr<Db> writer_db_;
  std::thread writer_thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::mutex mu_;
  std::mutex join_mu_;
  std::condition_variable cv_;
  std::vector<WriteOp> queue_;
  bool stopping_ = false;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Db>> readers_;

  size_t writes_since_analyze_ = 0;
  std::chrono::steady_clock::time_point last_analyze_ = std::chrono::steady_clock::now();

  std::atomic<bool> writer_done_{false};
  std::atomic<int64_t> queue_depth_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writes_committed_{0};
  std::atomic<int64_t> writes_failed_{0};
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_ENGINE_H_
