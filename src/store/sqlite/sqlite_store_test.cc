// Tests of what is particular to the SQLite engine (the Store contract itself is tested on every
// engine by store/store_conformance_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

namespace ringo::store {
namespace {

TEST(OpenSqliteStoreTest, RejectsMemoryAndEmptyPaths) {
  SqliteOptions options;
  EXPECT_EQ(OpenSqliteStore(options).status().code(), Code::kInvalidArgument);
  options.path = ":memory:";
  EXPECT_EQ(OpenSqliteStore(options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ringo::store
