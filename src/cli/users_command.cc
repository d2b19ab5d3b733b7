// `ringo users create`: MLflow-compatible users (basic auth), the first admin made on the
// server's machine straight into its store.
#include <iostream>
#include <memory>

#include "api/api.h"
#include "cli/command.h"
#include "common/util.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::cli {

namespace {

using client::Json;

struct UserFlags {
  std::string username, store_dir, backend_store_uri;
  bool admin = false;
  bool password_stdin = false;
};

Result<std::string> ReadPassword(const UserFlags& f) {
  std::string password;
  if (f.password_stdin) {
    std::getline(std::cin, password);
  } else if (const char* p = std::getenv("RINGO_USER_PASSWORD"); p && *p) {
    password = p;
  } else {
    return InvalidArgument("no password: pipe it with --password-stdin or set "
                           "RINGO_USER_PASSWORD");
  }
  return password;
}

Result<std::unique_ptr<store::Store>> OpenStore(const UserFlags& f) {
  if (!f.backend_store_uri.empty()) {
    if (store::IsPostgresUri(f.backend_store_uri)) {
      store::PostgresOptions options;
      options.conninfo = f.backend_store_uri;
      return store::OpenPostgresStore(options);
    }
    const std::string scheme = "sqlite:///";
    if (f.backend_store_uri.rfind(scheme, 0) != 0) {
      return InvalidArgument("unsupported --backend-store-uri '" + f.backend_store_uri +
                             "': expected sqlite:///PATH or postgresql://...");
    }
    store::SqliteOptions options;
    options.path = f.backend_store_uri.substr(scheme.size());
    return store::OpenSqliteStore(options);
  }
  store::SqliteOptions options;
  options.path = (std::filesystem::path(f.store_dir) / "ringo.db").string();
  return store::OpenSqliteStore(options);
}

Status CreateInStore(const UserFlags& f, const std::string& password) {
  ASSIGN_OR_RETURN(auto st, OpenStore(f));
  Status s = api::CreateUserInStore(st.get(), f.username, password, f.admin);
  st->Shutdown();
  return s;
}

}  // namespace

void AddUsersCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<UserFlags>();
  auto* users =
      app.add_subcommand("users", "Users with passwords, as MLflow's basic auth has them");
  users->require_subcommand(1);
  auto* create = users->add_subcommand(
      "create", "Create a user (with --store: straight into a server's store, e.g. its first "
                "admin; else through the server, as an admin)");
  create->add_option("username", f->username, "The user's name")->required();
  create->add_flag("--admin", f->admin, "An admin: every permission, users and delivery");
  create->add_flag("--password-stdin", f->password_stdin,
                   "Read the password from the first line of standard input (else "
                   "RINGO_USER_PASSWORD)");
  create->add_option("--store", f->store_dir,
                     "The server's --store directory (SQLite), written directly");
  create->add_option("--backend-store-uri", f->backend_store_uri,
                     "The server's database (sqlite:///PATH or postgresql://...), written "
                     "directly");
  AddServerFlags(create, &ctx);
  Context* x = &ctx;
  OnRun(create, x, [x, f]() -> int {
    auto password = ReadPassword(*f);
    if (!password.ok()) return Fail(password.status());
    if (!f->store_dir.empty() || !f->backend_store_uri.empty()) {
      Status s = CreateInStore(*f, *password);
      if (!s.ok()) return Fail(s);
      std::cout << "created " << (f->admin ? "admin " : "user ") << f->username << "\n";
      return 0;
    }
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Post("/api/2.0/mlflow/users/create",
                                        Json{{"username", f->username}, {"password", *password}}));
      if (f->admin) {
        RETURN_IF_ERROR(c.Patch("/api/2.0/mlflow/users/update-admin",
                                Json{{"username", f->username}, {"is_admin", true}})
                            .status());
      }
      std::cout << "created " << (f->admin ? "admin " : "user ") << f->username << " (id "
                << out["user"].value("id", 0) << ")\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
