// `ringo apps contract|list|remove`: the model interfaces app versions were built against.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "common/util.h"
#include "coreml/coreml.h"

namespace ringo::cli {

namespace {

using client::Json;

struct AppsFlags {
  std::string collection, app_versions;
  std::vector<std::string> models;  // NAME=PATH
};

// The interface an app was built against, as JSON: inspected from the bundled .mlmodel or
// .mlpackage, or read from a file `ringo inspect --json` wrote.
Result<Json> InterfaceOf(const std::string& path) {
  std::string ext = ToLower(std::filesystem::path(path).extension().string());
  if (ext == ".json") {
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return InvalidArgument("'" + path + "' is not JSON");
    return j;
  }
  ASSIGN_OR_RETURN(coreml::Model model, coreml::Load(path));
  return Json::parse(coreml::InfoToJson(coreml::Inspect(model, path)));
}

Status Contract(client::Client& c, const Context& ctx, const AppsFlags& f) {
  Json models = Json::object();
  for (const std::string& m : f.models) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0)
      return InvalidArgument("--model expects NAME=PATH; got '" + m + "'");
    ASSIGN_OR_RETURN(models[m.substr(0, eq)], InterfaceOf(m.substr(eq + 1)));
  }
  const char* user = std::getenv("USER");
  ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/apps/contracts",
                                    Json{{"collection", f.collection},
                                         {"app_versions", f.app_versions},
                                         {"models", models},
                                         {"actor", user ? user : "cli"}}));
  if (ctx.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << f.collection << ": apps " << out["contract"].value("app_versions", "")
              << " built against " << models.size() << " model interface(s)\n";
  }
  return Status::Ok();
}

Status List(client::Client& c, const Context& ctx, const AppsFlags& f) {
  ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/apps/contracts", {{"collection", f.collection}}));
  if (ctx.json) {
    std::cout << out.dump(2) << "\n";
    return Status::Ok();
  }
  for (const Json& k : out.value("contracts", Json::array())) {
    std::cout << k.value("app_versions", "") << "  models:";
    for (auto& [name, iface] : k["models"].items()) std::cout << " " << name;
    std::cout << "  (" << FormatTime(k.value("creation_time", int64_t{0})) << " by "
              << k.value("actor", "") << ")\n";
  }
  return Status::Ok();
}

}  // namespace

void AddAppsCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<AppsFlags>();
  auto* apps = app.add_subcommand("apps", "Interfaces app versions were built against");
  apps->require_subcommand(1);
  auto* contract = apps->add_subcommand(
      "contract", "Declare the model interfaces an app version range was built against");
  contract->add_option("collection", f->collection, "The collection the app ships")->required();
  contract->add_option("--app-versions", f->app_versions, "e.g. \">=2.0,<3.0\"")->required();
  contract
      ->add_option("--model", f->models,
                   "NAME=PATH of the bundled .mlmodel/.mlpackage or its `ringo inspect --json` "
                   "(repeatable)")
      ->required();
  auto* list = apps->add_subcommand("list", "The contracts of a collection");
  list->add_option("collection", f->collection, "The collection the app ships")->required();
  auto* remove = apps->add_subcommand("remove", "Remove the contract of an app range");
  remove->add_option("collection", f->collection, "The collection the app ships")->required();
  remove->add_option("--app-versions", f->app_versions, "The range, as declared")->required();
  for (auto* c : {contract, list, remove}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(contract, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return Contract(c, *x, *f); });
  });
  OnRun(list, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return List(c, *x, *f); });
  });
  OnRun(remove, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/apps/contracts/delete",
                                        Json{{"collection", f->collection},
                                             {"app_versions", f->app_versions}}));
      if (x->json) std::cout << out.dump(2) << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
