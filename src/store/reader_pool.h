// Pooled reader connections of a SQL engine, shared by the engines: a lease hands out an idle
// connection (or opens one) and gives it back when it ends, unless the connection was lost
// (Db::Healthy() false) or opened before the last Renew, so the next lease opens a fresh one.
// Private to store/ and its engines.
#ifndef RINGO_STORE_READER_POOL_H_
#define RINGO_STORE_READER_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ringo::store {

template <typename Db>
class ReaderPool {
 public:
  // `open` makes a new reader connection when none is idle.
  explicit ReaderPool(std::function<Result<std::unique_ptr<Db>>()> open)
      : open_(std::move(open)) {}

  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Db> conn, uint64_t generation)
        : db(std::move(conn)), pool_(pool), generation_(generation) {}
    Lease(Lease&& o) noexcept : db(std::move(o.db)), pool_(o.pool_), generation_(o.generation_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db && db->Healthy()) pool_->Return(std::move(db), generation_);
    }

    std::unique_ptr<Db> db;

   private:
    ReaderPool* pool_;
    uint64_t generation_;
  };

  Result<Lease> Acquire() {
    uint64_t current = generation_.load();
    {
      std::lock_guard lock(mu_);
      while (!idle_.empty()) {
        Idle conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn.generation == current && conn.db->Healthy()) {
          return Lease(this, std::move(conn.db), current);
        }
      }
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, open_());
    return Lease(this, std::move(db), current);
  }

  // Connections open now are not handed out again: each lease after this one opens (or finds)
  // a connection opened after it. SQLite reads the planner's statistics when a connection
  // first reads the schema, and an ANALYZE on another connection does not make it read them
  // again.
  void Renew() {
    generation_.fetch_add(1);
    std::vector<Idle> old;
    {
      std::lock_guard lock(mu_);
      old.swap(idle_);
    }
  }

 private:
  struct Idle {
    std::unique_ptr<Db> db;
    uint64_t generation;
  };

  void Return(std::unique_ptr<Db> db, uint64_t generation) {
    if (generation != generation_.load()) return;
    std::lock_guard lock(mu_);
    idle_.push_back(Idle{std::move(db), generation});
  }

  std::function<Result<std::unique_ptr<Db>>()> open_;
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  std::vector<Idle> idle_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_READER_POOL_H_
