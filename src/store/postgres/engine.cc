// The PostgreSQL write engine: group commit on one writer thread, pooled readers, reconnects.
#include "store/postgres/engine.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "store/postgres/store_impl.h"

namespace ringo::store::pg {


WriteEngine::WriteEngine(std::string conninfo, size_t max_ops_per_commit,
                         std::unique_ptr<Db> writer)
    : EngineBase(std::move(writer), max_ops_per_commit,
                 [conninfo = std::move(conninfo)] { return Db::Open(conninfo); }) {
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

// PostgreSQL plans searches from table statistics, which autovacuum refreshes only a minute or
// more after a burst of writes: a search over 10k runs created moments before was planned for
// one row and took 10 s (27 ms once analyzed). So after every 2,000 committed writes, at most
// every 10 s, the writer refreshes the statistics of the tables searches filter and sort on
// (ANALYZE samples at most 30k rows of each, so its cost does not grow with the tables). The
// metric history table is left to autovacuum: its reads go by primary key.
void WriteEngine::MaybeAnalyze() {
  int64_t written = queue_.writes_committed();
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

void WriteEngine::Shutdown() {
  queue_.Stop();
  std::lock_guard join_lock(join_mu_);
  if (writer_thread_.joinable()) writer_thread_.join();
}

// One transaction for the whole batch: a commit costs a round trip and a WAL flush on the
// server, so writes arriving together share one. Completions run after the commit, in order.
void WriteEngine::WriterLoop() {
  std::vector<WriteOp> batch;
  std::vector<Status> results;
  while (queue_.Take(batch)) {
    results.assign(batch.size(), Status::Ok());
    Status s = RunBatch(batch, results);
    if (!s.ok()) {
      for (auto& r : results) {
        if (r.ok()) r = s;
      }
    }
    queue_.Complete(batch, results, s.ok());
    MaybeAnalyze();
  }
}

// Applies the batch in one transaction; a non-OK return fails every write the batch holds and
// means nothing was committed.
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
    if (!results[0].ok()) {
      RETURN_IF_ERROR(db.ExecScript("ROLLBACK"));
      return results[0];  // nothing was committed
    }
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
  if (Pq().PQtransactionStatus(db.raw()) != PQTRANS_INTRANS) {
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

// The hopeful first attempt: every write applied in turn without savepoints (each would cost a
// round trip per write). False as soon as one fails; the caller then retries the batch.
bool WriteEngine::ApplyAll(Db& db, std::vector<WriteOp>& batch, std::vector<Status>& results) {
  // Log-batches of metrics alone (what training loops and log-metric send) go as one statement
  // for the whole batch, whatever their runs: two round trips instead of two per write.
  bool metrics_only = std::all_of(batch.begin(), batch.end(),
                                  [](const WriteOp& op) { return op.metrics != nullptr; });
  if (metrics_only) {
    std::vector<const MetricWrite*> writes;
    writes.reserve(batch.size());
    for (const WriteOp& op : batch) writes.push_back(op.metrics.get());
    return PostgresEngine::WriteMetricWrites(db, writes).ok() && db.Healthy();
  }
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
