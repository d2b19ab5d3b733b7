// Pooled reader connections of a SQL engine, shared by the engines: a lease hands out an idle
// connection (or opens one) and gives it back when it ends, unless the connection was lost
// (Db::Healthy() false), so the next lease opens a fresh one. Private to store/ and its engines.
#ifndef RINGO_STORE_READER_POOL_H_
#define RINGO_STORE_READER_POOL_H_

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
    Lease(ReaderPool* pool, std::unique_ptr<Db> conn) : db(std::move(conn)), pool_(pool) {}
    Lease(Lease&& o) noexcept : db(std::move(o.db)), pool_(o.pool_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db && db->Healthy()) pool_->Return(std::move(db));
    }

    std::unique_ptr<Db> db;

   private:
    ReaderPool* pool_;
  };

  Result<Lease> Acquire() {
    {
      std::lock_guard lock(mu_);
      while (!idle_.empty()) {
        std::unique_ptr<Db> db = std::move(idle_.back());
        idle_.pop_back();
        if (db->Healthy()) return Lease(this, std::move(db));
      }
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, open_());
    return Lease(this, std::move(db));
  }

 private:
  void Return(std::unique_ptr<Db> db) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(db));
  }

  std::function<Result<std::unique_ptr<Db>>()> open_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_READER_POOL_H_
