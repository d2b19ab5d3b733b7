// What the SQL engines' write engines share: the writer connection, the queue of writes its
// thread takes in batches (write_queue.h) and the pool of readers (reader_pool.h), behind the
// calls SqlStore makes. Each engine derives from it, starts its writer thread and commits
// batches its own way. Private to store/ and its engines.
#ifndef RINGO_STORE_ENGINE_BASE_H_
#define RINGO_STORE_ENGINE_BASE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>

#include "common/status.h"
#include "store/reader_pool.h"
#include "store/store.h"
#include "store/write_queue.h"

namespace ringo::store {

template <typename Db>
class EngineBase {
 public:
  EngineBase(const EngineBase&) = delete;
  EngineBase& operator=(const EngineBase&) = delete;

  // Queues `apply` for the writer thread; `done` runs there after the commit (or the failure),
  // so it may read back through writer_db(). After Shutdown, done(kUnavailable) at once.
  // `metrics`, when given, says the write is that log-batch of metrics alone.
  void Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done,
              std::shared_ptr<const MetricWrite> metrics = nullptr) {
    queue_.Submit(std::move(apply), std::move(done), std::move(metrics));
  }

  // The writer's connection: only for `done` callbacks of Submit, which run on its thread and
  // see every committed write.
  Db& writer_db() { return *writer_db_; }

  // A pooled reader connection, returned to the pool when the lease ends (unless it was lost).
  Result<typename ReaderPool<Db>::Lease> AcquireReader() { return readers_.Acquire(); }

  StoreStats Stats() const { return queue_.Stats(); }

 protected:
  using WriteOp = typename WriteQueue<Db>::Op;

  // `open_reader` makes a reader connection when the pool has none idle.
  EngineBase(std::unique_ptr<Db> writer, size_t max_ops_per_commit,
             std::function<Result<std::unique_ptr<Db>>()> open_reader)
      : writer_db_(std::move(writer)),
        queue_(max_ops_per_commit),
        readers_(std::move(open_reader)) {}
  ~EngineBase() = default;

  std::unique_ptr<Db> writer_db_;
  WriteQueue<Db> queue_;
  ReaderPool<Db> readers_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_ENGINE_BASE_H_
