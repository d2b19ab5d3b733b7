// Tests of the libpq wrapper's placeholder numbering.
#include "store/postgres/db.h"

#include <gtest/gtest.h>

namespace ringo::store::pg {
namespace {

TEST(NumberPlaceholdersTest, NumbersEachPlaceholderOutsideQuotes) {
  struct Case {
    const char* sql;
    const char* want;
    int count;
  };
  const Case cases[] = {
      {"SELECT 1", "SELECT 1", 0},
      {"a = ? AND b = ?", "a = $1 AND b = $2", 2},
      {"x LIKE '?%' AND y = ?", "x LIKE '?%' AND y = $1", 1},
      {"\"odd?name\" = ?", "\"odd?name\" = $1", 1},
      {"ESCAPE '' AND z IN (?, ?, ?)", "ESCAPE '' AND z IN ($1, $2, $3)", 3},
  };
  for (const Case& c : cases) {
    int n = -1;
    EXPECT_EQ(NumberPlaceholders(c.sql, &n), c.want) << c.sql;
    EXPECT_EQ(n, c.count) << c.sql;
  }
}

}  // namespace
}  // namespace ringo::store::pg
