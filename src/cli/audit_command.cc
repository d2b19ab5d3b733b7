// `ringo audit`: who changed what, when and from where.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/util.h"

namespace ringo::cli {

namespace {

using client::Json;

struct AuditFlags {
  double hours = 24;
  std::string actor, route;
  int limit = 100;
};

void PrintEntries(const Json& out) {
  for (const Json& e : out.value("entries", Json::array())) {
    std::cout << FormatTime(e.value("time", int64_t{0})) << "  " << e.value("actor", "") << "  "
              << e.value("method", "") << " " << e.value("path", "") << "  "
              << e.value("status", 0);
    if (int64_t n = e.value("count", int64_t{1}); n > 1) std::cout << "  x" << n;
    if (std::string t = e.value("target", ""); !t.empty()) std::cout << "  " << t;
    if (std::string o = e.value("origin", ""); !o.empty()) std::cout << "  from " << o;
    std::cout << "\n";
  }
}

}  // namespace

void AddAuditCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<AuditFlags>();
  auto* audit = app.add_subcommand(
      "audit", "Every change made through the server: who, when, what, from where (admin)");
  audit->add_option("--hours", f->hours, "How far back to look")
      ->check(CLI::Range(0.01, 366.0 * 24))
      ->capture_default_str();
  audit->add_option("--actor", f->actor, "Only this actor (e.g. token:ci, anonymous)");
  audit->add_option("--route", f->route, "Only routes containing this (e.g. channels, runs/)");
  audit->add_option("--limit", f->limit, "At most this many entries, newest first")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  AddServerFlags(audit, &ctx);
  Context* x = &ctx;
  OnRun(audit, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      int64_t since = NowMillis() - static_cast<int64_t>(f->hours * 3600 * 1000);
      client::Query q = {{"since", std::to_string(since)}, {"limit", std::to_string(f->limit)}};
      if (!f->actor.empty()) q.emplace_back("actor", f->actor);
      if (!f->route.empty()) q.emplace_back("route", f->route);
      ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/audit", q));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        PrintEntries(out);
      }
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
