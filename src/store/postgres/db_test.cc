// Tests of the libpq wrapper: loading libpq, placeholder numbering.
#include "store/postgres/db.h"

#include <gtest/gtest.h>

namespace ringo::store::pg {
namespace {

TEST(LibpqTest, LoadsEveryFunctionTheStoreCalls) {
  ASSERT_TRUE(LoadLibpq().ok());
  ASSERT_TRUE(LoadLibpq().ok());  // once per process, then the same answer
  const Libpq& pq = Pq();
  auto all_loaded = [](auto... fns) { return ((fns != nullptr) && ...); };
  EXPECT_TRUE(all_loaded(pq.PQclear, pq.PQcmdTuples, pq.PQconnectdbParams, pq.PQerrorMessage,
                         pq.PQexec, pq.PQexecParams, pq.PQexecPrepared, pq.PQfformat,
                         pq.PQfinish, pq.PQgetisnull, pq.PQgetlength, pq.PQgetvalue,
                         pq.PQntuples, pq.PQprepare, pq.PQreset, pq.PQresultErrorField,
                         pq.PQresultErrorMessage, pq.PQresultStatus, pq.PQsetNoticeProcessor,
                         pq.PQstatus, pq.PQtransactionStatus));
  // The functions are libpq's own, not stand-ins.
  EXPECT_EQ(pq.PQstatus, &::PQstatus);
}

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
