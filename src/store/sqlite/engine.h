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
#include "store/engine_base.h"
#include "store/sqlite/db.h"
#include "store/store.h"

namespace ringo::store {

class WriteEngine : public EngineBase<Db> {
 public:
  // Starts the writer and checkpoint threads over an open, migrated writer connection.
  WriteEngine(std::string path, size_t max_ops_per_commit, std::unique_ptr<Db> writer);
  ~WriteEngine() { Shutdown(); }
  // Stops accepting writes, commits what is queued, joins the threads. Idempotent.
  void Shutdown();

 private:
  void WriterLoop();
  void CommitBatch(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  void CheckpointLoop();
  void MaybeAnalyze(Db& db, size_t writes);
  static Status ApplyWithSavepoint(Db& db, WriteOp& op);

  const std::string path_;
  std::thread writer_thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::mutex join_mu_;

  size_t writes_since_analyze_ = 0;
  std::chrono::steady_clock::time_point last_analyze_ = std::chrono::steady_clock::now();

  std::atomic<bool> writer_done_{false};
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_ENGINE_H_
