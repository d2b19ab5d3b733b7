// Schedules of pipelines: create, list, show with firings, pause, resume, run now, delete.
// Creating or running one starts commands on the server's machine: admin only.
#include "api/handlers.h"
#include "api/routes.h"
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

Result<Response> CreateSchedule(const Services& s, const Request& req) {
  if (!JsonDepthWithin(req.body, 8)) return InvalidArgument("a schedule is nested too deeply");
  ASSIGN_OR_RETURN(schedule::Schedule parsed, schedule::ScheduleFromJson(req.body));
  ASSIGN_OR_RETURN(schedule::Schedule created, s.scheduler->Create(std::move(parsed)));
  return ScheduleResponse(created);
}

Result<Response> ListSchedules(const Services& s, const Request&) {
  ASSIGN_OR_RETURN(auto all, s.scheduler->List());
  std::string body = "{\"schedules\":[";
  for (size_t i = 0; i < all.size(); ++i) {
    if (i) body += ",";
    body += schedule::ScheduleToJson(all[i]);
  }
  body += "]}";
  return JsonResponse(std::move(body));
}

Result<Response> GetSchedule(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(schedule::Schedule found, s.scheduler->Get(Name(req)));
  ASSIGN_OR_RETURN(auto firings, s.scheduler->Firings(found.name, 50));
  return ScheduleResponse(found, &firings);
}

Result<Response> PauseSchedule(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(schedule::Schedule changed, s.scheduler->SetPaused(Name(req), true));
  return ScheduleResponse(changed);
}

Result<Response> ResumeSchedule(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(schedule::Schedule changed, s.scheduler->SetPaused(Name(req), false));
  return ScheduleResponse(changed);
}

Result<Response> RunScheduleNow(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(schedule::Firing f, s.scheduler->RunNow(Name(req)));
  return JsonResponse("{\"firing\":" + schedule::FiringToJson(f) + "}");
}

Result<Response> DeleteSchedule(const Services& s, const Request& req) {
  RETURN_IF_ERROR(s.scheduler->Delete(Name(req)));
  return EmptyObject();
}

}  // namespace

std::span<const Route> ScheduleRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "/api/ringo/v1/schedules", kAdmin, CreateSchedule},
      {kGet, "/api/ringo/v1/schedules", kRead, ListSchedules},
      {kGet, "/api/ringo/v1/schedules/{name}", kRead, GetSchedule},
      {kPost, "/api/ringo/v1/schedules/{name}/pause", kAdmin, PauseSchedule},
      {kPost, "/api/ringo/v1/schedules/{name}/resume", kAdmin, ResumeSchedule},
      {kPost, "/api/ringo/v1/schedules/{name}/run-now", kAdmin, RunScheduleNow},
      {kDelete, "/api/ringo/v1/schedules/{name}", kAdmin, DeleteSchedule},
  };
  return kRoutes;
}

}  // namespace ringo::api
