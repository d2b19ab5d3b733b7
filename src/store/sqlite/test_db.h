// For tests: a bare SQLite database (no store around it) in a fresh temporary directory, removed
// afterwards, with a helper reading one text value.
#ifndef RINGO_STORE_SQLITE_TEST_DB_H_
#define RINGO_STORE_SQLITE_TEST_DB_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/util.h"
#include "store/sqlite/db.h"

namespace ringo::store {

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ringo-db-test-" + NewId());
    std::filesystem::create_directories(dir_);
    auto db = Db::Open((dir_ / "ringo.db").string(), false);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // The first column of the first row `sql` yields, as text; "<no row>" when there is none.
  std::string Text(const std::string& sql) {
    auto q = db_->PrepareUncached(sql);
    EXPECT_TRUE(q.ok());
    if (!q.ok()) return "";
    Status s;
    std::string out = (*q)->Step(&s) ? std::string((*q)->Text(0)) : "<no row>";
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Db> db_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_TEST_DB_H_
