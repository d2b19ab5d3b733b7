// `ringo channels promote|rollout|rollback|history|rules`: what each channel's devices get.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

namespace {

using client::Json;

struct ChannelFlags {
  std::string collection, channel, deployment, reason, rules_file;
  int rollout = 100;
  int64_t version = 0;
  bool force = false;
  bool clear_rules = false;
};

// Who is acting, as the history's note beside the token that authenticates the call.
std::string Actor() {
  const char* user = std::getenv("USER");
  return user ? user : "cli";
}

void PrintRules(const Json& rules) {
  if (rules.empty()) {
    std::cout << "  (no rules: every device follows the channel's deployment)\n";
    return;
  }
  int n = 0;
  for (const Json& r : rules) {
    std::cout << "  " << ++n << ". " << r.value("deployment_id", "");
    if (r.contains("name")) std::cout << "  [" << r.value("name", "") << "]";
    std::cout << "  when";
    bool any = false;
    for (auto& [k, v] : r.items()) {
      if (k == "deployment_id" || k == "name") continue;
      std::cout << " " << k << "=" << (v.is_string() ? v.get<std::string>() : v.dump());
      any = true;
    }
    std::cout << (any ? "" : " always") << "\n";
  }
}

void PrintHistory(const Json& out) {
  for (const Json& h : out.value("history", Json::array())) {
    std::cout << FormatTime(h.value("time", int64_t{0})) << "  " << h.value("action", "") << "  "
              << (h.value("from", "").empty() ? "-" : h.value("from", "")) << " -> "
              << h.value("to", "") << "  " << h.value("rollout", 100) << "%  by "
              << h.value("actor", "")
              << (h.value("reason", "").empty() ? "" : "  (" + h.value("reason", "") + ")")
              << (h.value("forced", false) ? "  FORCED" : "") << "\n";
    if (h.contains("rules")) PrintRules(h["rules"]);
    for (const Json& o : h.value("overridden", Json::array()))
      std::cout << "    overrode: " << o.get<std::string>() << "\n";
  }
}

Status Rules(client::Client& c, const Context& ctx, const ChannelFlags& f, Json* out) {
  if (f.rules_file.empty() && !f.clear_rules) {
    ASSIGN_OR_RETURN(*out, c.Get("/api/ringo/v1/channels/get",
                                 {{"collection", f.collection}, {"channel", f.channel}}));
    if (!ctx.json) {
      std::cout << f.collection << "/" << f.channel << " rules:\n";
      PrintRules((*out)["channel"].value("rules", Json::array()));
      *out = Json::object();  // shown already
    }
    return Status::Ok();
  }
  Json rules = Json::array();
  if (!f.clear_rules) {
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(f.rules_file));
    rules = Json::parse(text, nullptr, false);
    if (rules.is_discarded()) return InvalidArgument("'" + f.rules_file + "' is not JSON");
    if (rules.is_object() && rules.contains("rules")) rules = rules["rules"];
  }
  ASSIGN_OR_RETURN(*out, c.Post("/api/ringo/v1/channels/rules", Json{{"collection", f.collection},
                                                                    {"channel", f.channel},
                                                                    {"rules", rules},
                                                                    {"reason", f.reason},
                                                                    {"force", f.force},
                                                                    {"actor", Actor()}}));
  if (!ctx.json) PrintRules((*out)["channel"].value("rules", Json::array()));
  return Status::Ok();
}

// Runs one verb, then prints its answer: JSON with --json, else the channel it left.
int Verb(Context* x, const ChannelFlags* f,
         std::function<Status(client::Client&, Json*)> call) {
  return WithClient(*x, [&](client::Client& c) -> Status {
    Json out;
    RETURN_IF_ERROR(call(c, &out));
    if (x->json) {
      std::cout << out.dump(2) << "\n";
    } else if (out.contains("channel")) {
      PrintChannel(f->collection, out["channel"]);
    }
    return Status::Ok();
  });
}

}  // namespace

void AddChannelsCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ChannelFlags>();
  auto* channels = app.add_subcommand("channels", "Staging/release channels of a collection");
  channels->require_subcommand(1);
  auto target = [&f](CLI::App* cmd) {
    cmd->add_option("collection", f->collection, "The collection")->required();
    cmd->add_option("channel", f->channel, "The channel, e.g. staging or release")->required();
  };
  auto* promote = channels->add_subcommand("promote", "Point a channel at a deployment");
  target(promote);
  promote->add_option("deployment", f->deployment, "Deployment id (dep-...), as `deployments create` prints it")->required();
  promote->add_option("--rollout", f->rollout, "Percent of devices (staged rollout)")
      ->capture_default_str();
  promote->add_option("--reason", f->reason, "Why (recorded in the history)");
  promote->add_flag("--force", f->force, "Promote despite a breaking interface change (needs --reason)");
  auto* rollout = channels->add_subcommand("rollout", "Change the rollout percent (100 completes it)");
  target(rollout);
  rollout->add_option("percent", f->rollout, "Percent of devices on the new deployment (1-100)")->required();
  rollout->add_option("--reason", f->reason, "Why (recorded in the history)");
  auto* rollback = channels->add_subcommand("rollback", "Back to the previous deployment");
  target(rollback);
  rollback->add_option("--reason", f->reason, "Why (recorded in the history)");
  auto* history = channels->add_subcommand("history", "Every change of a channel");
  target(history);
  auto* rules =
      channels->add_subcommand("rules", "Show or set the targeting rules of a channel (first match wins)");
  target(rules);
  auto* set = rules->add_option("--set", f->rules_file, "JSON file: an array of rules (docs/targeting-rules.md)");
  rules->add_flag("--clear", f->clear_rules, "Remove every rule")->excludes(set);
  rules->add_option("--reason", f->reason, "Why (recorded in the history)");
  rules->add_flag("--force", f->force, "Set despite a breaking interface change (needs --reason)");
  // The staging channel's release candidate may skip its soak: the collection's release policy
  // (ringo release) takes it on to release at its next evaluation.
  auto* approve = channels->add_subcommand("approve", "Approve the staging candidate for release now");
  approve->add_option("collection", f->collection, "The collection")->required();
  approve->add_option("--version", f->version, "The candidate's version (default: the newest)");
  for (auto* c : {promote, rollout, rollback, history, rules, approve}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  const ChannelFlags* fp = f.get();
  OnRun(approve, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      Json body = Json::object();
      if (f->version) body["version"] = f->version;
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/release-policies/" +
                                            client::UrlEncode(f->collection, false) + "/approve",
                                        body));
      std::cout << (x->json ? out.dump(2)
                            : "version " + std::to_string(out["candidate"].value("version", int64_t{0})) +
                                  " approved for release")
                << "\n";
      return Status::Ok();
    });
  });
  OnRun(promote, x, [x, f, fp] {
    return Verb(x, fp, [&](client::Client& c, Json* out) -> Status {
      ASSIGN_OR_RETURN(*out, c.Post("/api/ringo/v1/channels/promote",
                                    Json{{"collection", f->collection},
                                         {"channel", f->channel},
                                         {"deployment_id", f->deployment},
                                         {"rollout", f->rollout},
                                         {"reason", f->reason},
                                         {"force", f->force},
                                         {"actor", Actor()}}));
      return Status::Ok();
    });
  });
  OnRun(rollout, x, [x, f, fp] {
    return Verb(x, fp, [&](client::Client& c, Json* out) -> Status {
      ASSIGN_OR_RETURN(*out, c.Post("/api/ringo/v1/channels/rollout",
                                    Json{{"collection", f->collection},
                                         {"channel", f->channel},
                                         {"rollout", f->rollout},
                                         {"reason", f->reason},
                                         {"actor", Actor()}}));
      return Status::Ok();
    });
  });
  OnRun(rollback, x, [x, f, fp] {
    return Verb(x, fp, [&](client::Client& c, Json* out) -> Status {
      ASSIGN_OR_RETURN(*out, c.Post("/api/ringo/v1/channels/rollback",
                                    Json{{"collection", f->collection},
                                         {"channel", f->channel},
                                         {"reason", f->reason},
                                         {"actor", Actor()}}));
      return Status::Ok();
    });
  });
  OnRun(history, x, [x, f, fp] {
    return Verb(x, fp, [&](client::Client& c, Json* out) -> Status {
      ASSIGN_OR_RETURN(*out, c.Get("/api/ringo/v1/channels/history",
                                   {{"collection", f->collection}, {"channel", f->channel}}));
      if (!x->json) PrintHistory(*out);
      return Status::Ok();
    });
  });
  OnRun(rules, x, [x, f, fp] {
    return Verb(x, fp, [&](client::Client& c, Json* out) { return Rules(c, *x, *f, out); });
  });
}

}  // namespace ringo::cli
