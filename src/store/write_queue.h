// The queue between the threads that submit writes and an engine's single writer thread, shared
// by the SQL engines: writes wait here until the writer takes them as one batch (group commit),
// their completions run in submission order after the batch's fate is known, and the counters
// behind Store::Stats are kept. How a batch is applied and committed stays with the engine.
// Private to store/ and its engines.
#ifndef RINGO_STORE_WRITE_QUEUE_H_
#define RINGO_STORE_WRITE_QUEUE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::store {

// A log-batch of metrics alone (no params, tags or logged-model links): an engine may write
// several of them, of any runs, in one statement (PostgreSQL does; see postgres/engine.cc).
struct MetricWrite {
  std::string run_id;
  std::shared_ptr<const Batch> batch;
};

template <typename Db>
class WriteQueue {
 public:
  struct Op {
    std::function<Status(Db&)> apply;
    std::function<void(Status)> done;
    // Set when the write is a MetricWrite; `apply` writes the same thing alone.
    std::shared_ptr<const MetricWrite> metrics{};
    std::chrono::steady_clock::time_point queued{};
  };

  // A batch holds at most `max_ops_per_commit` writes.
  explicit WriteQueue(size_t max_ops_per_commit) : max_ops_(max_ops_per_commit) {}

  // Queues a write; after Stop, done(kUnavailable) at once.
  void Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done,
              std::shared_ptr<const MetricWrite> metrics = nullptr) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(Op{std::move(apply), std::move(done), std::move(metrics),
                            std::chrono::steady_clock::now()});
        depth_.store(static_cast<int64_t>(queue_.size()));
        cv_.notify_one();
        return;
      }
    }
    done(Unavailable("the store is shutting down"));
  }

  // For the writer thread: waits for queued writes and moves the oldest into `batch` (emptied
  // first). False once stopped with nothing left queued.
  bool Take(std::vector<Op>& batch) {
    batch.clear();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return false;
    if (queue_.size() <= max_ops_) {
      // Swap rather than move element by element: the submitting threads wait on this lock.
      batch.swap(queue_);
    } else {
      auto end = queue_.begin() + static_cast<ptrdiff_t>(max_ops_);
      std::move(queue_.begin(), end, std::back_inserter(batch));
      queue_.erase(queue_.begin(), end);
    }
    depth_.store(static_cast<int64_t>(queue_.size()));
    taken_ = std::chrono::steady_clock::now();
    return true;
  }

  // For the writer thread: counts the batch's outcome and runs each completion in order.
  // `committed` says whether a transaction was committed at all.
  void Complete(std::vector<Op>& batch, std::vector<Status>& results, bool committed) {
    if (committed) commits_.fetch_add(1);
    auto now = std::chrono::steady_clock::now();
    batch_seconds_.Observe(now - taken_);
    for (size_t i = 0; i < batch.size(); ++i) {
      (results[i].ok() ? writes_committed_ : writes_failed_).fetch_add(1);
      write_seconds_.Observe(now - batch[i].queued);
      batch[i].done(std::move(results[i]));
    }
  }

  // Refuses further writes; Take drains what is queued, then returns false.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

  int64_t commits() const { return commits_.load(); }
  int64_t writes_committed() const { return writes_committed_.load(); }

  StoreStats Stats() const {
    StoreStats st;
    st.write_queue_depth = depth_.load();
    st.commits = commits_.load();
    st.writes_committed = writes_committed_.load();
    st.writes_failed = writes_failed_.load();
    st.batch_seconds = batch_seconds_.Read();
    st.write_seconds = write_seconds_.Read();
    return st;
  }

 private:
  // Written by the writer thread, read by whoever asks for Stats.
  class Histogram {
   public:
    void Observe(std::chrono::steady_clock::duration d) {
      double secs = std::chrono::duration<double>(d).count();
      size_t b = 0;
      while (b < std::size(LatencyHistogram::kBounds) && secs > LatencyHistogram::kBounds[b]) ++b;
      counts_[b].fetch_add(1, std::memory_order_relaxed);
      micros_.fetch_add(static_cast<int64_t>(secs * 1e6), std::memory_order_relaxed);
    }
    LatencyHistogram Read() const {
      LatencyHistogram h;
      for (size_t i = 0; i < h.counts.size(); ++i) h.counts[i] = counts_[i].load();
      h.sum_seconds = static_cast<double>(micros_.load()) / 1e6;
      return h;
    }

   private:
    std::array<std::atomic<uint64_t>, LatencyHistogram::kBuckets> counts_{};
    std::atomic<int64_t> micros_{0};
  };

  const size_t max_ops_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Op> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> depth_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writes_committed_{0};
  std::atomic<int64_t> writes_failed_{0};
  std::chrono::steady_clock::time_point taken_{};  // writer thread only
  Histogram batch_seconds_;
  Histogram write_seconds_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_WRITE_QUEUE_H_
