// `ringo models register|list|show|delete`: the model registry from the command line.
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

namespace {

using client::Json;

struct ModelsFlags {
  std::string path, name, run_id;
  std::string version;
};

// `models list`: every registered model with its latest version and aliases.
Status List(client::Client& c, const Context& ctx) {
  ASSIGN_OR_RETURN(Json out, c.Get("/api/2.0/mlflow/registered-models/search", {{"max_results", "1000"}}));
  if (ctx.json) {
    std::cout << out.dump(2) << "\n";
    return Status::Ok();
  }
  for (const Json& m : out.value("registered_models", Json::array())) {
    std::string latest;
    for (const Json& v : m.value("latest_versions", Json::array())) latest = v.value("version", "");
    std::cout << m.value("name", "") << (latest.empty() ? "" : "  latest v" + latest);
    for (const Json& a : m.value("aliases", Json::array())) {
      std::cout << "  @" << a.value("alias", "") << "=v" << a.value("version", "");
    }
    std::cout << "\n";
  }
  return Status::Ok();
}

// `models show NAME`: its versions (newest first) with stage, source and run.
Status Show(client::Client& c, const Context& ctx, const ModelsFlags& f) {
  ASSIGN_OR_RETURN(Json model, c.Get("/api/2.0/mlflow/registered-models/get", {{"name", f.name}}));
  std::string filter = "name = '" + f.name + "'";
  ASSIGN_OR_RETURN(Json versions, c.Get("/api/2.0/mlflow/model-versions/search",
                                        {{"filter", filter}, {"max_results", "1000"}}));
  if (ctx.json) {
    std::cout << Json{{"registered_model", model["registered_model"]},
                      {"model_versions", versions.value("model_versions", Json::array())}}
                     .dump(2)
              << "\n";
    return Status::Ok();
  }
  const Json& m = model["registered_model"];
  std::cout << m.value("name", "") << (m.value("description", "").empty() ? "" : ": " + m.value("description", ""))
            << "\n";
  for (const Json& v : versions.value("model_versions", Json::array())) {
    std::cout << "  v" << v.value("version", "") << "  " << v.value("current_stage", "None") << "  "
              << v.value("source", "");
    if (!v.value("run_id", "").empty()) std::cout << "  run " << v.value("run_id", "");
    std::cout << "\n";
  }
  return Status::Ok();
}

// `models delete NAME [--version N]`: one version, or the model with all its versions.
Status Delete(client::Client& c, const ModelsFlags& f) {
  if (!f.version.empty()) {
    return c.Delete("/api/2.0/mlflow/model-versions/delete", Json{{"name", f.name}, {"version", f.version}})
        .status();
  }
  return c.Delete("/api/2.0/mlflow/registered-models/delete", Json{{"name", f.name}}).status();
}

Status Register(client::Client& c, const Context& ctx, const ModelsFlags& f) {
  ASSIGN_OR_RETURN(Json v, c.RegisterModel(f.path, f.name, f.run_id));
  std::string version = v["model_version"].value("version", "");
  auto card = c.Get("/api/ringo/v1/model-versions/coreml", {{"name", f.name}, {"version", version}});
  if (ctx.json) {
    std::cout << v.dump(2) << "\n";
  } else {
    std::cout << f.name << " version " << version << "\n";
    if (card.ok() && card->contains("problem")) {
      std::cerr << "ringo: warning: " << f.name << " version " << version << " is registered, but "
                << (*card).value("problem", "") << "; it cannot be deployed\n";
    } else if (card.ok()) {
      const Json& cm = (*card)["coreml"];
      // A file's digest is its sha256; a package directory's is a tree hash, named so.
      bool tree = (*card).contains("tree_sha256");
      std::cout << "  Core ML " << cm.value("model_type", "") << ", spec "
                << cm.value("specification_version", 0) << " (iOS " << cm.value("minimum_ios", "")
                << "+), " << cm.value("weight_precision", "") << ", "
                << (*card).value("size", int64_t{0}) << " bytes, "
                << (tree ? "tree_sha256 " : "sha256 ")
                << (*card).value(tree ? "tree_sha256" : "sha256", "") << "\n";
    }
  }
  // Like MLflow, the registry takes any source; but one that is not a Core ML model can be
  // neither inspected nor deployed, which a user of this verb should hear about.
  if (!card.ok() && card.status().code() == Code::kNotFound) {
    bool local = f.path.rfind("runs:/", 0) != 0 && f.path.rfind("mlflow-artifacts:", 0) != 0;
    std::cerr << "ringo: warning: " << f.name << " version " << version << " is registered, but '"
              << f.path << "' "
              << (local ? "is not a Core ML model (.mlmodel or .mlpackage)"
                        : "holds no Core ML model ringo can read")
              << "; it cannot be inspected or deployed\n";
  }
  return Status::Ok();
}

}  // namespace

void AddModelsCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ModelsFlags>();
  auto* models = app.add_subcommand("models", "The model registry");
  models->require_subcommand(1);
  auto* reg = models->add_subcommand(
      "register", "Register a model file/dir (or runs:/ or mlflow-artifacts: URI) as a new version");
  reg->add_option("path", f->path, "Local .mlmodel/.mlpackage/dir, or a URI")->required();
  reg->add_option("--name", f->name, "Registered model name")->required();
  reg->add_option("--run-id", f->run_id, "Run to attach the files to (default: a new run)");
  auto* list = models->add_subcommand("list", "List registered models");
  auto* show = models->add_subcommand("show", "A registered model and its versions");
  show->add_option("name", f->name, "Registered model name")->required();
  auto* remove = models->add_subcommand("delete", "Delete a version, or the model with all its versions");
  remove->add_option("name", f->name, "Registered model name")->required();
  remove->add_option("--version", f->version, "Only this version");
  for (auto* cmd : {reg, list, show, remove}) AddServerFlags(cmd, &ctx);
  Context* x = &ctx;
  OnRun(reg, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return Register(c, *x, *f); });
  });
  OnRun(list, x, [x] { return WithClient(*x, [&](client::Client& c) { return List(c, *x); }); });
  OnRun(show, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return Show(c, *x, *f); });
  });
  OnRun(remove, x, [x, f] { return WithClient(*x, [&](client::Client& c) { return Delete(c, *f); }); });
}

}  // namespace ringo::cli
