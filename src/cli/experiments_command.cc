// `ringo experiments list|create|get|rename|delete|restore`.
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

namespace {

using client::Json;

struct ExperimentsFlags {
  bool all = false;
  std::string name, id, new_name;
};

Status List(client::Client& c, const Context& ctx, const ExperimentsFlags& f) {
  ASSIGN_OR_RETURN(Json j, c.Post("/api/2.0/mlflow/experiments/search",
                                  Json{{"max_results", 50000},
                                       {"view_type", f.all ? "ALL" : "ACTIVE_ONLY"}}));
  if (ctx.json) {
    std::cout << j.dump(2) << "\n";
    return Status::Ok();
  }
  for (const Json& e : j.value("experiments", Json::array())) {
    std::cout << e.value("experiment_id", "") << "  " << e.value("name", "") << "  "
              << e.value("lifecycle_stage", "") << "  " << e.value("artifact_location", "")
              << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddExperimentsCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ExperimentsFlags>();
  auto* experiments = app.add_subcommand("experiments", "List and manage experiments");
  experiments->require_subcommand(1);
  auto* list = experiments->add_subcommand("list", "List experiments");
  list->add_flag("--all", f->all, "Include deleted experiments");
  auto* create = experiments->add_subcommand("create", "Create an experiment");
  create->add_option("name", f->name, "Experiment name")->required();
  auto* get = experiments->add_subcommand("get", "Show an experiment");
  get->add_option("id", f->id, "Experiment id")->required();
  auto* del = experiments->add_subcommand("delete", "Delete an experiment");
  del->add_option("id", f->id, "Experiment id")->required();
  auto* restore = experiments->add_subcommand("restore", "Restore a deleted experiment");
  restore->add_option("id", f->id, "Experiment id")->required();
  auto* rename = experiments->add_subcommand("rename", "Rename an experiment");
  rename->add_option("id", f->id, "Experiment id")->required();
  rename->add_option("name", f->new_name, "New name")->required();
  for (auto* c : {list, create, get, del, restore, rename}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(list, x, [x, f] { return WithClient(*x, [&](client::Client& c) { return List(c, *x, *f); }); });
  OnRun(create, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(std::string id, c.CreateExperiment(f->name));
      std::cout << id << "\n";
      return Status::Ok();
    });
  });
  OnRun(get, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json j, c.Get("/api/2.0/mlflow/experiments/get", {{"experiment_id", f->id}}));
      std::cout << j["experiment"].dump(2) << "\n";
      return Status::Ok();
    });
  });
  OnRun(rename, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) {
      return c.Post("/api/2.0/mlflow/experiments/update",
                    Json{{"experiment_id", f->id}, {"new_name", f->new_name}})
          .status();
    });
  });
  for (auto [cmd, path] : {std::pair{del, "/api/2.0/mlflow/experiments/delete"},
                           std::pair{restore, "/api/2.0/mlflow/experiments/restore"}}) {
    OnRun(cmd, x, [x, f, path = std::string(path)] {
      return WithClient(*x, [&](client::Client& c) {
        return c.Post(path, Json{{"experiment_id", f->id}}).status();
      });
    });
  }
}

}  // namespace ringo::cli
