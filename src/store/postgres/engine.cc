// The PostgreSQL write engine: group commit on one writer thread, pooled readers, reconnects.
#include "store/postgres/engine.h"

#include <iterator>

namespace ringo::store::pg {

namespace {

// A constant shared by every ringo (the migration lock's number plus one); it names a lock.
constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(7234061206)";

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
  } else {
    commits_.fetch_add(1);
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
Status WriteEngine::RunBatch(std::vector<WriteOp>& batch, std::vector<Status>& results) {
  Db& db = *writer_db_;
  if (!db.Healthy()) RETURN_IF_ERROR(db.Reconnect());
  Status begin = db.ExecScript("BEGIN");
  if (!begin.ok() && !db.Healthy()) {
    // The connection died while idle (server restart): one fresh attempt before giving up.
    RETURN_IF_ERROR(db.Reconnect());
    begin = db.ExecScript("BEGIN");
  }
  RETURN_IF_ERROR(begin);
  // One writing transaction at a time per database, across ringo servers: the domain SQL
  // (shared with SQLite, which has a single writer by construction) checks names before
  // inserting them and numbers experiments, versions and events as MAX + 1. Under this lock
  // every statement of the batch sees the other servers' committed writes.
  RETURN_IF_ERROR(db.ExecScript(kWriterLock));
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i] = ApplyWithSavepoint(db, batch[i]);
    // Without a connection the transaction is gone; nothing after this write can commit.
    if (!db.Healthy()) return Unavailable("postgresql: connection lost during a write");
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
  return Status::Ok();
}

Status WriteEngine::ApplyWithSavepoint(Db& db, WriteOp& op) {
  RETURN_IF_ERROR(db.ExecScript("SAVEPOINT op"));
  Status s = op.apply(db);
  if (!s.ok()) {
    // Also clears PostgreSQL's aborted-transaction state after a failed statement.
    RETURN_IF_ERROR(db.ExecScript("ROLLBACK TO SAVEPOINT op"));
  }
  Status r = db.ExecScript("RELEASE SAVEPOINT op");
  return s.ok() ? r : s;
}

}  // namespace ringo::store::pg
