// `ringo models register`: a model file, package or URI as a new registry version.
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

namespace {

using client::Json;

struct ModelsFlags {
  std::string path, name, run_id;
};

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
  AddServerFlags(reg, &ctx);
  Context* x = &ctx;
  OnRun(reg, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return Register(c, *x, *f); });
  });
}

}  // namespace ringo::cli
