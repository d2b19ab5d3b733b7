// The SQLite write engine, apart from any domain's SQL: one writer thread that applies queued
// writes in shared transactions (group commit, each write under its own savepoint so a failing
// write leaves no trace while its neighbours commit; consecutive log-batches of metrics alone
// share one), a pool of read-only connections, a
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
  // The queue's figures and the size of the write-ahead log.
  StoreStats Stats() const;

 private:
  void WriterLoop();
  void CommitBatch(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  void CheckpointLoop();
  void MaybeAnalyze(Db& db, size_t writes);
  void MaybeRestartWal(Db& db);
  static int OnWalCommit(void* engine, sqlite3* db, const char* name, int frames);
  static void ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results);
  static Status ApplyWithSavepoint(Db& db, WriteOp& op);
  static Status WithSavepoint(Db& db, const std::function<Status()>& apply);

  const std::string path_;
  std::thread writer_thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::mutex join_mu_;

  // Frames in the write-ahead log after the last commit, and the count at which the writer
  // next copies the rest of it into the database itself (writer thread only).
  static constexpr int kRestartFrames = 256;  // 1 MB of 4 KB pages
  static constexpr int kLargestWal = 2048;     // 8 MB
  static constexpr std::chrono::milliseconds kRestartInterval{250};
  int wal_frames_ = 0;
  int restart_at_ = kRestartFrames;
  std::chrono::steady_clock::time_point last_restart_{};
  size_t writes_since_analyze_ = 0;
  size_t writes_before_analyze_ = 0;  // written by this process up to the last ANALYZE
  std::chrono::steady_clock::time_point last_analyze_ = std::chrono::steady_clock::now();

  std::atomic<bool> writer_done_{false};
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_ENGINE_H_
