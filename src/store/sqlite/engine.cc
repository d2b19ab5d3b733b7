// The SQLite write engine: group commit on one writer thread, pooled readers, checkpoints.
#include "store/sqlite/engine.h"

#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <filesystem>

#include "store/sqlite/store_impl.h"

namespace ringo::store {

namespace {

// Readers never write, keep a page cache of their own and map the file.
Result<std::unique_ptr<Db>> OpenReader(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path, false));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA query_only = ON; PRAGMA cache_size = -32000; "
                                 "PRAGMA mmap_size = 268435456"));
  return db;
}

}  // namespace

WriteEngine::WriteEngine(std::string path, size_t max_ops_per_commit, std::unique_ptr<Db> writer)
    : EngineBase(std::move(writer), max_ops_per_commit, [path] { return OpenReader(path); }),
      path_(std::move(path)) {
  // Replaces SQLite's auto-checkpoint, which is itself a WAL hook: see MaybeRestartWal.
  sqlite3_wal_hook(writer_db_->raw(), &WriteEngine::OnWalCommit, this);
  writer_thread_ = std::thread([this] { WriterLoop(); });
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

void WriteEngine::Shutdown() {
  queue_.Stop();
  std::lock_guard join_lock(join_mu_);
  if (writer_thread_.joinable()) writer_thread_.join();
  writer_done_.store(true);
  { std::lock_guard checkpoint_lock(checkpoint_mu_); }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

void WriteEngine::WriterLoop() {
  // SCHED_BATCH: a wake-up of the writer does not preempt the threads submitting work. On a
  // busy core the writer then runs once the I/O thread has queued what it has read, so one
  // commit carries many writes instead of one each.
  sched_param param{};
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  std::vector<WriteOp> batch;
  std::vector<Status> results;
  while (queue_.Take(batch)) CommitBatch(*writer_db_, batch, results);
}

// One transaction for the whole batch; each write under its own savepoint. Completions run
// after the commit, in submission order.
void WriteEngine::CommitBatch(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results) {
  results.assign(batch.size(), Status::Ok());
  bool committed = false;
  Status begin = db.ExecScript("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& r : results) r = begin;
  } else {
    ApplyAll(db, batch, results);
    Status commit = db.ExecScript("COMMIT");
    committed = commit.ok();
    if (!committed) {
      (void)db.ExecScript("ROLLBACK");
      for (auto& r : results) {
        if (r.ok()) r = commit;
      }
    }
  }
  // Upkeep comes after the completions: no write waits for it.
  queue_.Complete(batch, results, committed);
  MaybeAnalyze(db, batch.size());
  MaybeRestartWal(db);
}

// Consecutive writes of metrics alone go together under one savepoint; should that fail (a run
// not active, say), each of them is applied again on its own, so its error is its own.
void WriteEngine::ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results) {
  std::vector<const MetricWrite*> merged;
  for (size_t i = 0; i < batch.size();) {
    size_t end = i;
    merged.clear();
    while (end < batch.size() && batch[end].metrics != nullptr) {
      merged.push_back(batch[end].metrics.get());
      ++end;
    }
    if (merged.size() >= 2) {
      Status s = WithSavepoint(db, [&] { return SqliteEngine::WriteMetricWrites(db, merged); });
      for (size_t j = i; j < end; ++j) results[j] = s.ok() ? s : ApplyWithSavepoint(db, batch[j]);
      i = end;
    } else {
      results[i] = ApplyWithSavepoint(db, batch[i]);
      ++i;
    }
  }
}

int WriteEngine::OnWalCommit(void* engine, sqlite3*, const char*, int frames) {
  auto* self = static_cast<WriteEngine*>(engine);
  if (frames < self->wal_frames_) self->restart_at_ = kRestartFrames;  // the log started over
  self->wal_frames_ = frames;
  return SQLITE_OK;
}

// Under continuous writes the background checkpointer copies the log into the database but
// never catches up with its end, so SQLite never starts the log over: it grew to 40 MB within
// seconds of single log-metrics, every commit appended to fresh pages of the file, and the
// p99 of those requests rose to 20-40 ms (8 ms with the log kept short; docs/benchmarks.md).
// So once the log passes kRestartFrames, the writer itself copies what is left between two
// batches, when nothing new can be appended, and the next commit writes from the start of the
// file again. The background checkpointer has copied most of it by then; what this costs is a
// checkpoint's two syncs, at most every kRestartInterval unless the log passes kLargestWal.
// A reader on an old snapshot can hold the log's start: the next attempt then waits for
// kRestartFrames more.
void WriteEngine::MaybeRestartWal(Db& db) {
  if (wal_frames_ < restart_at_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_restart_ < kRestartInterval && wal_frames_ < kLargestWal) return;
  int log = 0, copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(db.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc == SQLITE_BUSY) return;  // the background checkpointer is at it: after the next batch
  last_restart_ = now;
  if (rc != SQLITE_OK || copied < log) restart_at_ = wal_frames_ + kRestartFrames;
}

StoreStats WriteEngine::Stats() const {
  StoreStats st = EngineBase::Stats();
  std::error_code ec;
  auto size = std::filesystem::file_size(path_ + "-wal", ec);
  st.wal_bytes = ec ? 0 : static_cast<int64_t>(size);
  return st;
}

// Copies committed pages from the WAL into the database file in the background, shortly after
// writes stop or every second under load. Readers of a short WAL go straight to the database
// file (a 100k-point history reads ~25% faster), and the writer never pauses for checkpoints
// (its own auto-checkpoint stays as a backstop). Passive: never blocks readers or the writer.
void WriteEngine::CheckpointLoop() {
  auto db = Db::Open(path_, false);
  if (!db.ok()) {
    std::fprintf(stderr, "ringo: store: checkpointer disabled: %s\n",
                 db.status().message().c_str());
    return;
  }
  int64_t seen = queue_.commits();
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(250));
    bool stopping = writer_done_.load();
    int64_t now = queue_.commits();
    if (now != seen) {
      seen = now;
      lock.unlock();
      sqlite3_wal_checkpoint_v2((*db)->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                nullptr);
      lock.lock();
    }
    if (stopping) break;
  }
  // Leave a short WAL behind for the next start.
  sqlite3_wal_checkpoint_v2((*db)->raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

// Keeps the planner's statistics current so searches pick the selective index. With
// analysis_limit, ANALYZE samples a few hundred rows per index: milliseconds, not a scan.
// Every 30 s under writes, and sooner while the store grows from empty (whenever this process
// has written as much again as before the last analysis): a search right after 10k runs were
// logged into a new store otherwise ran on the empty store's statistics, scanning every run.
void WriteEngine::MaybeAnalyze(Db& db, size_t writes) {
  writes_since_analyze_ += writes;
  auto now = std::chrono::steady_clock::now();
  if (writes_since_analyze_ < 5000) return;
  bool doubled = writes_since_analyze_ >= writes_before_analyze_;
  if (!doubled && now - last_analyze_ < std::chrono::seconds(30)) return;
  writes_before_analyze_ += writes_since_analyze_;
  writes_since_analyze_ = 0;
  last_analyze_ = now;
  Status s = db.ExecScript("PRAGMA analysis_limit = 400; ANALYZE;");
  if (!s.ok()) {
    std::fprintf(stderr, "ringo: store: ANALYZE failed: %s\n", s.message().c_str());
    return;
  }
  // Readers keep the statistics they read when they opened: a search over 10k runs logged by
  // this process otherwise went on planning from the empty store's (18 ms instead of 3).
  readers_.Renew();
}

Status WriteEngine::ApplyWithSavepoint(Db& db, WriteOp& op) {
  return WithSavepoint(db, [&] { return op.apply(db); });
}

// Runs `apply` under the savepoint "op": what it wrote is rolled back if it fails.
Status WriteEngine::WithSavepoint(Db& db, const std::function<Status()>& apply) {
  auto sp = db.Prepare("SAVEPOINT op");
  auto rel = db.Prepare("RELEASE op");
  auto rb = db.Prepare("ROLLBACK TO op");
  if (!sp.ok()) return sp.status();
  if (!rel.ok()) return rel.status();
  if (!rb.ok()) return rb.status();
  {
    StmtGuard g(**sp);
    RETURN_IF_ERROR(g->Exec());
  }
  Status s = apply();
  if (!s.ok()) {
    StmtGuard g(**rb);
    (void)g->Exec();
  }
  StmtGuard g(**rel);
  Status r = g->Exec();
  return s.ok() ? r : s;
}

}  // namespace ringo::store
