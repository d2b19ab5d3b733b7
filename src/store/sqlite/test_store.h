// For tests: a SQLite store in a fresh temporary directory, shut down and removed afterwards.
#ifndef RINGO_STORE_SQLITE_TEST_STORE_H_
#define RINGO_STORE_SQLITE_TEST_STORE_H_

#include <filesystem>
#include <memory>
#include <string>

#include "common/util.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::store {

class TestStore {
 public:
  // `prefix` names the directory (under the system's temporary directory) for whoever finds it.
  explicit TestStore(const std::string& prefix)
      : dir_(std::filesystem::temp_directory_path() / (prefix + NewId())) {
    std::filesystem::create_directories(dir_);
    SqliteOptions options;
    options.path = (dir_ / "ringo.db").string();
    auto st = OpenSqliteStore(options);
    if (st.ok()) store_ = std::move(st).value();
    status_ = st.status();
  }
  ~TestStore() {
    if (store_) store_->Shutdown();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  // Why the store could not be opened (then get() is null).
  const Status& status() const { return status_; }
  Store* get() const { return store_.get(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  Status status_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_TEST_STORE_H_
