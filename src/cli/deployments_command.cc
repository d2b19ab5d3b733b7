// `ringo deployments create|show`: immutable snapshots of a collection's model versions.
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"

namespace ringo::cli {

void AddDeploymentsCommand(CLI::App& app, Context& ctx) {
  struct DeploymentFlags {
    std::string collection, id;
    std::vector<std::string> models;  // NAME=VERSION
  };
  auto f = std::make_shared<DeploymentFlags>();
  auto* deployments = app.add_subcommand("deployments", "Immutable snapshots of a collection");
  deployments->require_subcommand(1);
  auto* create =
      deployments->add_subcommand("create", "Freeze model versions; prints the deployment id");
  create->add_option("collection", f->collection, "The collection to snapshot")->required();
  create->add_option("--model", f->models, "NAME=VERSION (repeatable)")->required();
  auto* show = deployments->add_subcommand("show", "What a deployment holds: models, versions, blobs");
  show->add_option("id", f->id, "Deployment id (dep-...)")->required();
  for (auto* cmd : {create, show}) AddServerFlags(cmd, &ctx);
  Context* x = &ctx;
  OnRun(show, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(client::Json out, c.Get("/api/ringo/v1/deployments/get", {{"id", f->id}}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      const client::Json& d = out["deployment"];
      std::cout << d.value("id", "") << "  " << d.value("collection", "") << "\n";
      for (const client::Json& m : d.value("models", client::Json::array())) {
        std::cout << "  " << m.value("name", "") << " v" << m.value("version", "") << "  "
                  << m.value("format", "") << "  " << m.value("size", int64_t{0}) << " bytes  sha256 "
                  << m.value("sha256", "") << "\n";
      }
      return Status::Ok();
    });
  });
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
