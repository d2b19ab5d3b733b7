// `ringo release set|show|delete` (a collection's release policy and its candidates) and
// `ringo channels approve` lives here too: it approves the staging candidate for release.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/command.h"

namespace ringo::cli {

void AddReleaseCommand(CLI::App& app, Context& ctx) {
  using client::Json;
  struct ReleaseFlags {
    std::string collection, file;
    int64_t version = 0;
  };
  auto f = std::make_shared<ReleaseFlags>();
  auto* cmd = app.add_subcommand("release", "A collection's release policy: gates, staging, rollout");
  cmd->require_subcommand(1);
  auto* set = cmd->add_subcommand("set", "Set the policy from a JSON file (see docs/continuous-training.md)");
  set->add_option("--file", f->file, "Policy JSON")->required();
  auto* show = cmd->add_subcommand("show", "The policy and where each candidate stands");
  auto* remove = cmd->add_subcommand("delete", "Stop the policy (channels stay as they are)");
  auto* approve = cmd->add_subcommand("approve", "Let the staging candidate go to release now");
  approve->add_option("--version", f->version, "The candidate's version (default: the newest)");
  for (auto* c : {set, show, remove, approve}) {
    c->add_option("collection", f->collection, "Collection")->required();
    AddServerFlags(c, &ctx);
  }
  Context* x = &ctx;
  auto path = [f] { return "/api/ringo/v1/release-policies/" + client::UrlEncode(f->collection, false); };
  OnRun(set, x, [x, f, path] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      std::ifstream in(f->file);
      if (!in) return InvalidArgument("cannot read '" + f->file + "'");
      std::stringstream text;
      text << in.rdbuf();
      Json body = Json::parse(text.str(), nullptr, false);
      if (!body.is_object()) return InvalidArgument("'" + f->file + "' is not a JSON object");
      ASSIGN_OR_RETURN(Json out, c.Put(path(), body));
      std::cout << (x->json ? out.dump(2) : "release policy of " + f->collection + " set") << "\n";
      return Status::Ok();
    });
  });
  OnRun(show, x, [x, path] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get(path(), {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      const Json& p = out["policy"];
      std::cout << p.value("collection", "") << ": model " << p.value("model", "") << "\n";
      for (const Json& cand : out.value("candidates", Json::array())) {
        std::cout << "  version " << cand.value("version", int64_t{0}) << "  "
                  << cand.value("stage", "") << "  " << cand.value("note", "") << "\n";
        for (const Json& g : cand.value("gates", Json::array())) {
          std::cout << "    " << (g.value("passed", false) ? "pass " : "FAIL ")
                    << g.value("name", "") << ": " << g.value("detail", "") << "\n";
        }
      }
      return Status::Ok();
    });
  });
  OnRun(remove, x, [x, path] {
    return WithClient(*x, [&](client::Client& c) -> Status { return c.Delete(path()); });
  });
  OnRun(approve, x, [x, f, path] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      Json body = Json::object();
      if (f->version) body["version"] = f->version;
      ASSIGN_OR_RETURN(Json out, c.Post(path() + "/approve", body));
      std::cout << (x->json ? out.dump(2)
                            : "version " + std::to_string(out["candidate"].value("version", int64_t{0})) +
                                  " approved for release")
                << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
