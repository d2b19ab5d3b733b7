// A private PostgreSQL server for tests: initdb in a fresh temporary directory, listening on
// 127.0.0.1 at an ephemeral port, removed again when the object goes. Test-only.
#ifndef RINGO_STORE_POSTGRES_TEST_POSTGRES_H_
#define RINGO_STORE_POSTGRES_TEST_POSTGRES_H_

#include <memory>
#include <string>

#include "common/status.h"

namespace ringo::store {

class TestPostgres {
 public:
  // Creates and starts a server from the binaries in $RINGO_PG_BINDIR (default
  // /usr/lib/postgresql/15/bin). PostgreSQL refuses to run as root, so under root the server
  // runs as `nobody` (runuser). kInternal, with the server's log, if it does not come up.
  static Result<std::unique_ptr<TestPostgres>> Start();
  // Stops the server (immediate shutdown) and removes its directory.
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // Creates an empty database with a new name; returns its postgresql:// URI.
  Result<std::string> CreateDatabase();
  // Stops the server, as an outage does; Resume starts it again on the same port and data.
  Status Pause();
  Status Resume();

  int port() const { return port_; }

 private:
  TestPostgres() = default;
  Status Ctl(const std::string& args);

  std::string dir_;
  std::string bindir_;
  std::string run_as_;  // "runuser -u nobody -- " under root, else empty
  int port_ = 0;
  int databases_ = 0;
};

// One server for the whole test process, started on first use and stopped at exit.
Result<TestPostgres*> SharedTestPostgres();

}  // namespace ringo::store

#endif  // RINGO_STORE_POSTGRES_TEST_POSTGRES_H_
