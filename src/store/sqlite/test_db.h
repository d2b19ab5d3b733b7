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

// Writes run "run<i>" of the Default experiment (started at i) with the param p = i % 10: a
// tenth of such runs share a value, for searches that a param's index should drive.
inline Status InsertRunWithParam(Db& db, int i) {
  std::string id = "run" + std::to_string(i);
  ASSIGN_OR_RETURN(Stmt * run, db.Prepare("INSERT INTO runs (run_id, experiment_id, name, user_id, "
                                          "status, start_time, artifact_uri) VALUES (?, 0, ?, '', "
                                          "'RUNNING', ?, '')"));
  {
    StmtGuard g(*run);
    g->Bind(1, id).Bind(2, id).Bind(3, int64_t{i});
    RETURN_IF_ERROR(g->Exec());
  }
  ASSIGN_OR_RETURN(Stmt * param,
                   db.Prepare("INSERT INTO params (run_id, key, value) VALUES (?, 'p', ?)"));
  StmtGuard g(*param);
  g->Bind(1, id).Bind(2, std::to_string(i % 10));
  return g->Exec();
}

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_TEST_DB_H_
