// `ringo tokens create|list|revoke`.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/util.h"

namespace ringo::cli {

namespace {

using client::Json;

struct TokenFlags {
  std::string scope, name, id, owner;
  double expires_in_days = 0;
};

void PrintTokens(const Json& out) {
  std::cout << "ID            SCOPE   NAME                  CREATED              STATE\n";
  for (const Json& t : out.value("tokens", Json::array())) {
    std::string state = t.value("revoked", false) ? "revoked" : "active";
    int64_t expires = t.value("expires", int64_t{0});
    if (!t.value("revoked", false) && expires > 0) {
      state = expires <= NowMillis() ? "expired" : "expires " + FormatTime(expires);
    }
    std::string name = t.value("name", "");
    if (t.contains("owner")) state += " (user " + t.value("owner", "") + ")";
    std::cout << t.value("id", "") << "  " << t.value("scope", "") << std::string(8 - std::min<size_t>(8, t.value("scope", "").size()), ' ')
              << name << std::string(22 - std::min<size_t>(21, name.size()), ' ')
              << FormatTime(t.value("created", int64_t{0})) << "  " << state << "\n";
  }
}

}  // namespace

void AddTokensCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<TokenFlags>();
  auto* tokens = app.add_subcommand("tokens", "API tokens (once one exists, every call needs one)");
  tokens->require_subcommand(1);
  auto* create = tokens->add_subcommand("create", "Create a token; it is printed once");
  create->add_option("--scope", f->scope, "admin, write, read or device")->required();
  create->add_option("--name", f->name, "What it is for");
  create->add_option("--owner", f->owner,
                     "The user it acts for (default: the user creating it, if any)");
  create->add_option("--expires-in", f->expires_in_days, "Days until it stops working (default: never)")
      ->check(CLI::PositiveNumber);
  auto* list = tokens->add_subcommand("list", "List tokens (never their secrets)");
  auto* revoke = tokens->add_subcommand("revoke", "Revoke a token: it gets 401 from now on");
  revoke->add_option("id", f->id, "The token's id, as `tokens list` shows it")->required();
  for (auto* c : {create, list, revoke}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(create, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      Json body{{"scope", f->scope}, {"name", f->name}};
      if (!f->owner.empty()) body["owner"] = f->owner;
      if (f->expires_in_days > 0) {
        body["expires"] = NowMillis() + static_cast<int64_t>(f->expires_in_days * 86400000.0);
      }
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/tokens", body));
      std::cout << out.value("token", "") << "\n";
      return Status::Ok();
    });
  });
  OnRun(list, x, [x] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/tokens", {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        PrintTokens(out);
      }
      return Status::Ok();
    });
  });
  OnRun(revoke, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      RETURN_IF_ERROR(c.Delete("/api/ringo/v1/tokens/" + client::UrlEncode(f->id, false)));
      std::cout << "revoked " << f->id << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
