// Schedules of pipelines: create, list, show with firings, pause, resume, run now, delete.
// Creating or running one starts commands on the server's machine: admin only.
#include "api/handlers.h"
#include "common/util.h"
#include "schedule/schedule.h"

namespace ringo::api {

namespace {

// {"schedule": ..., "firings": [...]} (firings newest first, when asked for).
Response ScheduleResponse(const schedule::Schedule& s,
                          const std::vector<schedule::Firing>* firings = nullptr) {
  std::string body = "{\"schedule\":" + schedule::ScheduleToJson(s);
  if (firings) {
    body += ",\"firings\":[";
    for (size_t i = 0; i < firings->size(); ++i) {
      if (i) body += ",";
      body += schedule::FiringToJson((*firings)[i]);
    }
    body += "]";
  }
  body += "}";
  return JsonResponse(std::move(body));
}

std::string Name(const Request& req) { return std::string(req.PathParam("name")); }

}  // namespace

void RegisterSchedules(http::Router& router, schedule::Scheduler* sched) {
  const std::string base = "/api/ringo/v1/schedules";
  router.Add(Method::kPost, base, Access::kAdmin,
             Sync([sched](const Request& req) -> Result<Response> {
               if (!JsonDepthWithin(req.body, 8)) {
                 return InvalidArgument("a schedule is nested too deeply");
               }
               ASSIGN_OR_RETURN(schedule::Schedule s, schedule::ScheduleFromJson(req.body));
               ASSIGN_OR_RETURN(schedule::Schedule created, sched->Create(std::move(s)));
               return ScheduleResponse(created);
             }));
  router.Add(Method::kGet, base, Access::kRead, Sync([sched](const Request&) -> Result<Response> {
               ASSIGN_OR_RETURN(auto all, sched->List());
               std::string body = "{\"schedules\":[";
               for (size_t i = 0; i < all.size(); ++i) {
                 if (i) body += ",";
                 body += schedule::ScheduleToJson(all[i]);
               }
               body += "]}";
               return JsonResponse(std::move(body));
             }));
  router.Add(Method::kGet, base + "/{name}", Access::kRead,
             Sync([sched](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(schedule::Schedule s, sched->Get(Name(req)));
               ASSIGN_OR_RETURN(auto firings, sched->Firings(s.name, 50));
               return ScheduleResponse(s, &firings);
             }));
  for (bool pause : {true, false}) {
    router.Add(Method::kPost, base + "/{name}/" + (pause ? "pause" : "resume"), Access::kAdmin,
               Sync([sched, pause](const Request& req) -> Result<Response> {
                 ASSIGN_OR_RETURN(schedule::Schedule s, sched->SetPaused(Name(req), pause));
                 return ScheduleResponse(s);
               }));
  }
  router.Add(Method::kPost, base + "/{name}/run-now", Access::kAdmin,
             Sync([sched](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(schedule::Firing f, sched->RunNow(Name(req)));
               return JsonResponse("{\"firing\":" + schedule::FiringToJson(f) + "}");
             }));
  router.Add(Method::kDelete, base + "/{name}", Access::kAdmin,
             Sync([sched](const Request& req) -> Result<Response> {
               RETURN_IF_ERROR(sched->Delete(Name(req)));
               return EmptyObject();
             }));
}

}  // namespace ringo::api
