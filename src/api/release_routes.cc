// Release policies of collections and where their candidates stand:
// /api/ringo/v1/release-policies/{collection} (PUT, GET, DELETE) and .../approve.
#include "api/handlers.h"
#include "common/util.h"
#include "release/release.h"

namespace ringo::api {

namespace {

std::string Collection(const Request& req) { return std::string(req.PathParam("collection")); }

}  // namespace

void RegisterRelease(http::Router& router, release::ReleaseManager* releases) {
  const std::string base = "/api/ringo/v1/release-policies/{collection}";
  router.Add(Method::kPut, base, Access::kAdmin,
             Sync([releases](const Request& req) -> Result<Response> {
               if (!JsonDepthWithin(req.body, 8)) return InvalidArgument("policy nested too deeply");
               ASSIGN_OR_RETURN(release::Policy parsed,
                                release::PolicyFromJson(req.body, Collection(req)));
               ASSIGN_OR_RETURN(release::Policy p, releases->SetPolicy(std::move(parsed)));
               return JsonResponse("{\"policy\":" + release::PolicyToJson(p) + "}");
             }));
  router.Add(Method::kGet, base, Access::kRead,
             Sync([releases](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(release::Policy p, releases->GetPolicy(Collection(req)));
               ASSIGN_OR_RETURN(auto candidates, releases->Candidates(p.collection));
               std::string body = "{\"policy\":" + release::PolicyToJson(p) + ",\"candidates\":[";
               for (size_t i = 0; i < candidates.size(); ++i) {
                 if (i) body += ",";
                 body += release::CandidateToJson(candidates[i]);
               }
               return JsonResponse(body + "]}");
             }));
  router.Add(Method::kDelete, base, Access::kAdmin,
             Sync([releases](const Request& req) -> Result<Response> {
               RETURN_IF_ERROR(releases->DeletePolicy(Collection(req)));
               return EmptyObject();
             }));
  router.Add(Method::kPost, base + "/approve", Access::kAdmin,
             Sync([releases](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(auto version, f.Int64("version"));
               ASSIGN_OR_RETURN(release::Candidate c,
                                releases->Approve(Collection(req), version.value_or(0)));
               return JsonResponse("{\"candidate\":" + release::CandidateToJson(c) + "}");
             }));
}

}  // namespace ringo::api
