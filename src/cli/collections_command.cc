// `ringo collections create|list`: the models an app ships together.
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"

namespace ringo::cli {

namespace {

using client::Json;

void PrintCollections(const Json& out) {
  for (const Json& col : out.value("collections", Json::array())) {
    std::cout << col.value("name", "") << "  models:";
    for (const Json& m : col.value("models", Json::array())) std::cout << " " << m.get<std::string>();
    std::cout << "\n";
    for (const Json& ch : col.value("channels", Json::array())) {
      std::cout << "  " << ch.value("name", "") << " -> "
                << DeploymentName(ch, "deployment_id", "deployment_label") << " ("
                << ch.value("rollout", 100) << "%)\n";
    }
  }
}

}  // namespace

void AddCollectionsCommand(CLI::App& app, Context& ctx) {
  struct CollectionFlags {
    std::string name;
    std::vector<std::string> models;
  };
  auto f = std::make_shared<CollectionFlags>();
  auto* collections = app.add_subcommand("collections", "Collections of models shipped together");
  collections->require_subcommand(1);
  auto* create = collections->add_subcommand("create", "Create a collection");
  create->add_option("name", f->name, "Collection name (what an app fetches)")->required();
  create->add_option("--model", f->models, "Registered model (repeatable)")->required();
  auto* list = collections->add_subcommand("list", "List collections and their channels");
  for (auto* c : {create, list}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(create, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/collections",
                                        Json{{"name", f->name}, {"models", f->models}}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        std::cout << "collection " << f->name << "\n";
      }
      return Status::Ok();
    });
  });
  OnRun(list, x, [x] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/collections", {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        PrintCollections(out);
      }
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
