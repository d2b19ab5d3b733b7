// The PostgreSQL write engine: group commit on one writer thread, pooled readers, reconnects.
#include "store/postgres/engine.h"

#include <chrono>
#include <iostream>
#include <iterator>

namespace ringo::store::pg {

namespace {

// Every writing transaction holds this lock, so one runs at a time per database even with
// several ringo servers: the domain SQL (shared with SQLite, which has a single writer by
// construction) checks names before inserting them and numbers experiments, versions and events
// as MAX + 1. Under the lock every statement sees the other servers' committed writes. The
// number is a constant shared by every ringo (the migration lock's plus one).
constexpr const char* kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(7234061206)";

}  // namespace

WriteEngine::WriteEngine(std::string conninfo, size_t max_ops_per_commit,
                         std::unique_ptr<Db> writer)
    : conninfo_(std::move(conninfo)),
      max_ops_per_commit_(max_ops_per_commit),
      writer_db_(std::move(writer)) {
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

WriteEngine::ReaderLease::~ReaderLease() {
  // A connection lost mid-read is dropped here; the next lease opens a fresh one.
  if (db && db->Healthy()) {
    std::lock_guard lock(engine->readers_mu_);
    engine->readers_.push_back(std::move(db));
  }
}

Result<WriteEngine::ReaderLease> WriteEngine::AcquireReader() {
  {
    std::lock_guard lock(readers_mu_);
    while (!readers_.empty()) {
      std::unique_ptr<Db> db = std::move(readers_.back());
      readers_.pop_back();
      if (db->Healthy()) return ReaderLease(this, std::move(db));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(conninfo_));
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

// PostgreSQL plans searches from table statistics, which autovacuum refreshes only a minute or
// more after a burst of writes: a search over 10k runs created moments before was planned for
// one row and took 10 s (27 ms once analyzed). So after every 2,000 committed writes, at most
// every 10 s, the writer refreshes the statistics of the tables searches filter and sort on
// (ANALYZE samples at most 30k rows of each, so its cost does not grow with the tables). The
// metric history table is left to autovacuum: its reads go by primary key.
void WriteEngine::MaybeAnalyze() {
  int64_t written = writes_committed_.load();
  auto now = std::chrono::steady_clock::now();
  if (written - analyzed_at_writes_ < 2000 || now - analyzed_at_ < std::chrono::seconds(10)) {
    return;
  }
  analyzed_at_writes_ = written;
  analyzed_at_ = now;
  Db& db = *writer_db_;
  if (!db.Healthy()) return;
  Status s = db.ExecScript("ANALYZE runs, latest_metrics, params, tags");
  if (!s.ok()) std::cerr << "ringo: postgresql: ANALYZE failed: " << s.message() << std::endl;
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
}

void WriteEngine::WriterLoop() {
  std::vector<WriteOp> batch;
  std::vector<Status> results;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) break;
      batch.clear();
      if (queue_.size() <= max_ops_per_commit_) {
        batch.swap(queue_);
      } else {
        auto end = queue_.begin() + static_cast<ptrdiff_t>(max_ops_per_commit_);
        std::move(queue_.begin(), end, std::back_inserter(batch));
        queue_.erase(queue_.begin(), end);
      }
      queue_depth_.store(static_cast<int64_t>(queue_.size()));
    }
    CommitBatch(batch, results);
    batch.clear();
    MaybeAnalyze();
  }
}

// One transaction for the whole batch: a commit costs a round trip and a WAL flush on the
// server, so writes arriving together share one. Completions run after the commit, in order.
void WriteEngine::CommitBatch(std::vector<WriteOp>& batch, std::vector<Status>& results) {
  results.assign(batch.size(), Status::Ok());
  Status s = RunBatch(batch, results);
  if (!s.ok()) {
    for (auto& r : results) {
      if (r.ok()) r = s;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].ok()) {
      writes_committed_.fetch_add(1);
    } else {
      writes_failed_.fetch_add(1);
    }
    batch[i].done(std::move(results[i]));
  }
}

// Applies the batch in one transaction; a non-OK return fails every write the batch holds.
// Statements that always travel together share one round trip (BEGIN and the writer lock;
// releasing one write's savepoint and taking the next one's): over a network the round trips,
// not the server's work, bound the rate of small writes.
Status WriteEngine::RunBatch(std::vector<WriteOp>& batch, std::vector<Status>& results) {
  Db& db = *writer_db_;
  if (!db.Healthy()) RETURN_IF_ERROR(db.Reconnect());
  RETURN_IF_ERROR(db.ExecScript(kBeginWrite));
  if (batch.size() == 1) {
    // A lone write needs no savepoint: when it fails, the transaction goes with it.
    results[0] = batch[0].apply(db);
    if (!db.Healthy()) return Unavailable("postgresql: connection lost during a write");
    if (!results[0].ok()) return db.ExecScript("ROLLBACK");
  } else if (!ApplyAll(db, batch, results)) {
    // Some write failed: its statements may have aborted or half-done the transaction. Start
    // over, this time isolating each write under a savepoint so the others still commit.
    if (!db.Healthy()) return Unavailable("postgresql: connection lost during a write");
    RETURN_IF_ERROR(db.ExecScript("ROLLBACK"));
    RETURN_IF_ERROR(db.ExecScript(kBeginWrite));
    results.assign(batch.size(), Status::Ok());
    RETURN_IF_ERROR(ApplyWithSavepoints(db, batch, results));
  }
  // PostgreSQL answers COMMIT of an aborted transaction with a silent rollback: never report
  // the writes of such a batch as committed.
  if (PQtransactionStatus(db.raw()) != PQTRANS_INTRANS) {
    if (db.Healthy()) (void)db.ExecScript("ROLLBACK");
    return Internal("postgresql: the batch's transaction was aborted");
  }
  Status commit = db.ExecScript("COMMIT");
  if (!commit.ok()) {
    if (db.Healthy()) (void)db.ExecScript("ROLLBACK");
    return commit;
  }
  commits_.fetch_add(1);
  return Status::Ok();
}

// The hopeful first attempt: every write applied in turn without savepoints (each would cost a
// round trip per write). False as soon as one fails; the caller then retries the batch.
bool WriteEngine::ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results) {
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i] = batch[i].apply(db);
    if (!results[i].ok() || !db.Healthy()) return false;
  }
  return true;
}

// Each write under the savepoint "op": a failing write is rolled back to it (which keeps the
// savepoint for the next write), a successful one releases it and takes it anew.
Status WriteEngine::ApplyWithSavepoints(Db& db, std::vector<WriteOp>& batch,
                                        std::vector<Status>& results) {
  RETURN_IF_ERROR(db.ExecScript("SAVEPOINT op"));
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i] = batch[i].apply(db);
    // Without a connection the transaction is gone; nothing after this write can commit.
    if (!db.Healthy()) return Unavailable("postgresql: connection lost during a write");
    bool last = i + 1 == batch.size();
    if (!results[i].ok()) {
      RETURN_IF_ERROR(db.ExecScript("ROLLBACK TO SAVEPOINT op"));
    } else if (!last) {
      RETURN_IF_ERROR(db.ExecScript("RELEASE SAVEPOINT op; SAVEPOINT op"));
    }
  }
  return Status::Ok();
}

}  // namespace ringo::store::pg
