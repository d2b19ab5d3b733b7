// `ringo deployments create`: an immutable snapshot of a collection's model versions.
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"

namespace ringo::cli {

void AddDeploymentsCommand(CLI::App& app, Context& ctx) {
  struct DeploymentFlags {
    std::string collection;
    std::vector<std::string> models;  // NAME=VERSION
  };
  auto f = std::make_shared<DeploymentFlags>();
  auto* deployments = app.add_subcommand("deployments", "Immutable snapshots of a collection");
  deployments->require_subcommand(1);
  auto* create =
      deployments->add_subcommand("create", "Freeze model versions; prints the deployment id");
  create->add_option("collection", f->collection, "The collection to snapshot")->required();
  create->add_option("--model", f->models, "NAME=VERSION (repeatable)")->required();
  AddServerFlags(create, &ctx);
  Context* x = &ctx;
  OnRun(create, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      client::Json models = client::Json::object();
      for (const std::string& m : f->models) {
        size_t eq = m.find('=');
        if (eq == std::string::npos || eq == 0)
          return InvalidArgument("--model expects NAME=VERSION; got '" + m + "'");
        models[m.substr(0, eq)] = m.substr(eq + 1);
      }
      ASSIGN_OR_RETURN(client::Json out,
                       c.Post("/api/ringo/v1/deployments",
                              client::Json{{"collection", f->collection}, {"models", models}}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        std::cout << out["deployment"].value("id", "") << "\n";
      }
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
