// The SQLite write engine: group commit on one writer thread, pooled readers, checkpoints.
#include "store/sqlite/engine.h"

#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <iterator>

namespace ringo::store {

WriteEngine::WriteEngine(std::string path, size_t max_ops_per_commit, std::unique_ptr<Db> writer)
    : path_(std::move(path)),
      max_ops_per_commit_(max_ops_per_commit),
      writer_db_(std::move(writer)) {
  writer_thread_ = std::thread([this] { WriterLoop(); });
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

WriteEngine::ReaderLease::~ReaderLease() {
  if (db) {
    std::lock_guard lock(engine->readers_mu_);
    engine->readers_.push_back(std::move(db));
  }
}

Result<WriteEngine::ReaderLease> WriteEngine::AcquireReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      std::unique_ptr<Db> db = std::move(readers_.back());
      readers_.pop_back();
      return ReaderLease(this, std::move(db));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path_, false));
  RETURN_IF_ERROR(
      db->ExecScript("PRAGMA query_only = ON; PRAGMA cache_size = -32000; "
                     "PRAGMA mmap_size = 268435456"));
  return ReaderLease(this, std::move(db));
}

void WriteEngine::Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(WriteOp{std::move(apply), std::move(done)});
      queue_depth_.store(static_cast<int64_t>(queue_.size()));
      cv_.notify_one();
      return;
    }
  }
  done(Unavailable("the store is shutting down"));
}

StoreStats WriteEngine::Stats() const {
  StoreStats st;
  st.write_queue_depth = queue_depth_.load();
  st.commits = commits_.load();
  st.writes_committed = writes_committed_.load();
  st.writes_failed = writes_failed_.load();
  return st;
}

void WriteEngine::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
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
  Db& db = *writer_db_;
  std::vector<WriteOp> batch;
  std::vector<Status> results;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) break;
      batch.clear();
      if (queue_.size() <= max_ops_per_commit_) {
        // Swap rather than move element by element: the submitting threads wait on this lock.
        batch.swap(queue_);
      } else {
        auto end = queue_.begin() + static_cast<ptrdiff_t>(max_ops_per_commit_);
        std::move(queue_.begin(), end, std::back_inserter(batch));
        queue_.erase(queue_.begin(), end);
      }
      queue_depth_.store(static_cast<int64_t>(queue_.size()));
    }
    CommitBatch(db, batch, results);
    batch.clear();
  }
}

// One transaction for the whole batch; each write under its own savepoint. Completions run
// after the commit, in submission order.
void WriteEngine::CommitBatch(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results) {
  results.assign(batch.size(), Status::Ok());
  Status begin = db.ExecScript("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& r : results) r = begin;
  } else {
    for (size_t i = 0; i < batch.size(); ++i) results[i] = ApplyWithSavepoint(db, batch[i]);
    Status commit = db.ExecScript("COMMIT");
    if (!commit.ok()) {
      (void)db.ExecScript("ROLLBACK");
      for (auto& r : results) {
        if (r.ok()) r = commit;
      }
    } else {
      commits_.fetch_add(1);
    }
  }
  MaybeAnalyze(db, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].ok()) {
      writes_committed_.fetch_add(1);
    } else {
      writes_failed_.fetch_add(1);
    }
    batch[i].done(std::move(results[i]));
  }
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
  int64_t seen = commits_.load();
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(250));
    bool stopping = writer_done_.load();
    int64_t now = commits_.load();
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
void WriteEngine::MaybeAnalyze(Db& db, size_t writes) {
  writes_since_analyze_ += writes;
  auto now = std::chrono::steady_clock::now();
  if (writes_since_analyze_ < 5000 || now - last_analyze_ < std::chrono::seconds(30)) return;
  writes_since_analyze_ = 0;
  last_analyze_ = now;
  Status s = db.ExecScript("PRAGMA analysis_limit = 400; ANALYZE;");
  if (!s.ok()) std::fprintf(stderr, "ringo: store: ANALYZE failed: %s\n", s.message().c_str());
}

Status WriteEngine::ApplyWithSavepoint(Db& db, WriteOp& op) {
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
  Status s = op.apply(db);
  if (!s.ok()) {
    StmtGuard g(**rb);
    (void)g->Exec();
  }
  StmtGuard g(**rel);
  Status r = g->Exec();
  return s.ok() ? r : s;
}

}  // namespace ringo::store
