// Tests of what is particular to the PostgreSQL engine: URIs, outages and reconnects, schema
// versions. The Store contract itself is tested on every engine by store_conformance_test.cc.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "store/postgres/test_postgres.h"
#include "store/store.h"

namespace ringo::store {
namespace {

Status Exec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  Status s = PQresultStatus(r) == PGRES_COMMAND_OK ? Status::Ok() : Internal(PQerrorMessage(conn));
  PQclear(r);
  PQfinish(conn);
  return s;
}

Result<std::unique_ptr<Store>> Open(const std::string& uri) {
  PostgresOptions options;
  options.conninfo = uri;
  return OpenPostgresStore(options);
}

Result<std::string> CreateExperiment(Store& store, const std::string& name) {
  return WaitFor<std::string>(
      [&](DoneWith<std::string> done) { store.CreateExperiment(name, "", {}, std::move(done)); });
}

TEST(PostgresUriTest, AcceptsBothSchemes) {
  EXPECT_TRUE(IsPostgresUri("postgresql://u:p@127.0.0.1:5432/db"));
  EXPECT_TRUE(IsPostgresUri("postgres://127.0.0.1/db"));
  EXPECT_FALSE(IsPostgresUri("sqlite:///tmp/ringo.db"));
  EXPECT_FALSE(IsPostgresUri("/tmp/postgres://x"));
}

TEST(OpenPostgresStoreTest, EmptyConnectionStringIsInvalid) {
  EXPECT_EQ(Open("").status().code(), Code::kInvalidArgument);
}

TEST(OpenPostgresStoreTest, UnreachableServerIsUnavailable) {
  auto server = TestPostgres::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  int port = (*server)->port();
  server->reset();  // nothing listens on the port any more
  auto started = std::chrono::steady_clock::now();
  auto store = Open("postgresql://ringo@127.0.0.1:" + std::to_string(port) + "/postgres");
  EXPECT_EQ(store.status().code(), Code::kUnavailable) << store.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(OpenPostgresStoreTest, SecondOpenKeepsSchemaAndData) {
  auto server = SharedTestPostgres();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  {
    auto store = Open(*uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(CreateExperiment(**store, "kept").ok());
  }
  auto again = Open(*uri);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE((*again)->GetExperimentByName("kept").ok());
}

// Servers starting together on an empty database: one creates the schema, the others wait for
// it and find it done (without the migration lock, one CREATE TABLE fails).
TEST(OpenPostgresStoreTest, ConcurrentFirstOpensMigrateOnce) {
  auto server = SharedTestPostgres();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  std::vector<std::future<Status>> opens;
  for (int i = 0; i < 4; ++i) {
    opens.push_back(std::async(std::launch::async, [&] { return Open(*uri).status(); }));
  }
  for (auto& f : opens) {
    Status s = f.get();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  auto store = Open(*uri);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetExperiment("0").ok());
}

TEST(OpenPostgresStoreTest, NewerSchemaIsFailedPrecondition) {
  auto server = SharedTestPostgres();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  ASSERT_TRUE(Open(*uri).ok());
  ASSERT_TRUE(Exec(*uri, "UPDATE schema_version SET version = 999").ok());
  EXPECT_EQ(Open(*uri).status().code(), Code::kFailedPrecondition);
}

// PostgreSQL's text cannot hold a NUL character (SQLite's can): such a value is the request's
// fault, kInvalidArgument, and the rest of the store carries on.
TEST(PostgresValuesTest, NulCharacterIsInvalidArgument) {
  auto server = SharedTestPostgres();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  auto store = Open(*uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Status s = Wait([&](Done done) {
    (*store)->SetExperimentTag("0", Tag{"k", std::string("a\0b", 3)}, std::move(done));
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(CreateExperiment(**store, "fine").ok());
}

// Two servers on one database: their writes are serialised, so names stay unique and the
// numbers the store hands out (experiment ids, event sequence) never collide.
TEST(PostgresSharedDatabaseTest, TwoStoresWriteConcurrently) {
  auto server = SharedTestPostgres();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  auto a = Open(*uri);
  auto b = Open(*uri);
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kWrites = 40;
  std::vector<std::future<Result<std::string>>> ids;
  std::vector<std::future<Status>> events;
  for (int i = 0; i < kWrites; ++i) {
    for (Store* store : {a->get(), b->get()}) {
      auto id = std::make_shared<std::promise<Result<std::string>>>();
      ids.push_back(id->get_future());
      store->CreateExperiment("e" + std::to_string(i), "", {},
                              [id](Result<std::string> r) { id->set_value(std::move(r)); });
      auto ev = std::make_shared<std::promise<Status>>();
      events.push_back(ev->get_future());
      store->AppendEvent("k", "log", "{}", [ev](Status s) { ev->set_value(std::move(s)); });
    }
  }
  std::set<std::string> created;
  int duplicates = 0;
  for (auto& f : ids) {
    Result<std::string> r = f.get();
    if (r.ok()) {
      EXPECT_TRUE(created.insert(*r).second) << "experiment id " << *r << " handed out twice";
    } else {
      EXPECT_EQ(r.status().code(), Code::kAlreadyExists) << r.status().ToString();
      ++duplicates;
    }
  }
  EXPECT_EQ(created.size(), size_t{kWrites});
  EXPECT_EQ(duplicates, kWrites);
  for (auto& f : events) EXPECT_TRUE(f.get().ok());
  auto logged = (*a)->ListEvents("k", "log", 0, 1000);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), size_t{2 * kWrites});
  for (size_t i = 0; i < logged->size(); ++i) EXPECT_EQ((*logged)[i].seq, int64_t(i) + 1);
}

// An outage turns reads and writes into kUnavailable without hanging, and the store carries on
// by itself once the server is back.
TEST(PostgresOutageTest, UnavailableWhileDownThenReconnects) {
  auto server = TestPostgres::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  auto store = Open(*uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto before = CreateExperiment(**store, "before");
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  ASSERT_TRUE((*server)->Pause().ok());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(CreateExperiment(**store, "during").status().code(), Code::kUnavailable);
  EXPECT_EQ((*store)->GetExperiment(*before).status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));

  ASSERT_TRUE((*server)->Resume().ok());
  auto after = CreateExperiment(**store, "after");
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE((*store)->GetExperimentByName("before").ok());
  EXPECT_EQ((*store)->GetExperimentByName("during").status().code(), Code::kNotFound);
  StoreStats stats = (*store)->Stats();
  EXPECT_GE(stats.writes_failed, 1);
  (*store)->Shutdown();
}

// A restart of the server while the store is idle leaves its pooled connections dead; the next
// read still succeeds.
TEST(PostgresOutageTest, ReadAfterRestartSucceeds) {
  auto server = TestPostgres::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->CreateDatabase();
  ASSERT_TRUE(uri.ok());
  auto store = Open(*uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->GetExperiment("0").ok());  // leaves a connection in the pool
  ASSERT_TRUE((*server)->Pause().ok());
  ASSERT_TRUE((*server)->Resume().ok());
  auto got = (*store)->GetExperiment("0");
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(CreateExperiment(**store, "after-restart").ok());
}

}  // namespace
}  // namespace ringo::store
