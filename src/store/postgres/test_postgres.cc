// A private PostgreSQL server for tests.
#include "store/postgres/test_postgres.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringo::store {

namespace {

namespace fs = std::filesystem;

// A port the kernel just handed out and nobody holds: the server binds it a moment later.
Result<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Internal("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port < 0) return Internal("no free port on 127.0.0.1");
  return port;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status Run(const std::string& command, const fs::path& log) {
  std::string full = command + " >>'" + log.string() + "' 2>&1";
  if (std::system(full.c_str()) != 0) {
    return Internal("'" + command + "' failed:\n" + ReadFile(log));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TestPostgres>> TestPostgres::Start() {
  std::unique_ptr<TestPostgres> pg(new TestPostgres());
  const char* bindir = std::getenv("RINGO_PG_BINDIR");
  pg->bindir_ = bindir && *bindir ? bindir : "/usr/lib/postgresql/15/bin";
  if (!fs::exists(fs::path(pg->bindir_) / "initdb")) {
    return Internal("no PostgreSQL server binaries in " + pg->bindir_ +
                    " (install postgresql-15 or set RINGO_PG_BINDIR)");
  }
  std::string tmpl = (fs::temp_directory_path() / "ringo-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Internal("mkdtemp failed");
  pg->dir_ = tmpl;
  if (geteuid() == 0) {
    pg->run_as_ = "runuser -u nobody -- ";
    RETURN_IF_ERROR(Run("chown nobody '" + pg->dir_ + "'", fs::path(pg->dir_) / "setup.log"));
  }
  ASSIGN_OR_RETURN(pg->port_, FreePort());
  // Trust on a loopback-only server in a private directory; no fsync: the tests check the
  // store's logic, not the disk.
  RETURN_IF_ERROR(Run(pg->run_as_ + pg->bindir_ + "/initdb -D '" + pg->dir_ +
                          "/data' -U ringo -A trust -E UTF8 --locale=C --no-sync",
                      fs::path(pg->dir_) / "initdb.log"));
  RETURN_IF_ERROR(pg->Resume());
  return pg;
}

TestPostgres::~TestPostgres() {
  if (dir_.empty()) return;
  (void)Ctl("-m immediate stop");
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Status TestPostgres::Ctl(const std::string& args) {
  return Run(run_as_ + bindir_ + "/pg_ctl -D '" + dir_ + "/data' -w -t 60 " + args,
             fs::path(dir_) / "ctl.log");
}

Status TestPostgres::Pause() { return Ctl("-m fast stop"); }

Status TestPostgres::Resume() {
  std::string options = "-p " + std::to_string(port_) + " -c listen_addresses=127.0.0.1 -k '" +
                        dir_ + "' -c fsync=off -c synchronous_commit=off " +
                        "-c full_page_writes=off -c max_connections=200";
  return Ctl("-l '" + dir_ + "/server.log' -o \"" + options + "\" start");
}

Result<std::string> TestPostgres::CreateDatabase() {
  std::string base = "postgresql://ringo@127.0.0.1:" + std::to_string(port_) + "/";
  PGconn* conn = PQconnectdb((base + "postgres").c_str());
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
  PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string error = PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
  if (!ok) return Internal("CREATE DATABASE failed: " + error);
  return base + name;
}

Result<TestPostgres*> SharedTestPostgres() {
  static Result<std::unique_ptr<TestPostgres>> shared = TestPostgres::Start();
  if (!shared.ok()) return shared.status();
  return shared->get();
}

}  // namespace ringo::store
