// `ringo tokens create`.
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

void AddTokensCommand(CLI::App& app, Context& ctx) {
  struct TokenFlags {
    std::string scope, name;
  };
  auto f = std::make_shared<TokenFlags>();
  auto* tokens = app.add_subcommand("tokens", "API tokens (once one exists, every call needs one)");
  tokens->require_subcommand(1);
  auto* create = tokens->add_subcommand("create", "Create a token; it is printed once");
  create->add_option("--scope", f->scope, "admin, write, read or device")->required();
  create->add_option("--name", f->name, "What it is for");
  AddServerFlags(create, &ctx);
  Context* x = &ctx;
  OnRun(create, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(client::Json out, c.Post("/api/ringo/v1/tokens",
                                                client::Json{{"scope", f->scope}, {"name", f->name}}));
      std::cout << out.value("token", "") << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
