// Release policies of collections and where their candidates stand:
// /api/ringo/v1/release-policies/{collection} (PUT, GET, DELETE) and .../approve.
#include "api/handlers.h"
#include "api/routes.h"
#include "common/util.h"
#include "release/release.h"

namespace ringo::api {

namespace {

std::string Collection(const Request& req) { return std::string(req.PathParam("collection")); }

Result<Response> SetPolicy(const Services& s, const Request& req) {
  if (!JsonDepthWithin(req.body, 8)) return InvalidArgument("policy nested too deeply");
  ASSIGN_OR_RETURN(release::Policy parsed, release::PolicyFromJson(req.body, Collection(req)));
  ASSIGN_OR_RETURN(release::Policy p, s.releases->SetPolicy(std::move(parsed)));
  return JsonResponse("{\"policy\":" + release::PolicyToJson(p) + "}");
}

Result<Response> GetPolicy(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(release::Policy p, s.releases->GetPolicy(Collection(req)));
  ASSIGN_OR_RETURN(auto candidates, s.releases->Candidates(p.collection));
  std::string body = "{\"policy\":" + release::PolicyToJson(p) + ",\"candidates\":[";
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i) body += ",";
    body += release::CandidateToJson(candidates[i]);
  }
  return JsonResponse(body + "]}");
}

Result<Response> DeletePolicy(const Services& s, const Request& req) {
  RETURN_IF_ERROR(s.releases->DeletePolicy(Collection(req)));
  return EmptyObject();
}

Result<Response> ApproveCandidate(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto version, f.Int64("version"));
  ASSIGN_OR_RETURN(release::Candidate c,
                   s.releases->Approve(Collection(req), version.value_or(0)));
  return JsonResponse("{\"candidate\":" + release::CandidateToJson(c) + "}");
}

}  // namespace

std::span<const Route> ReleaseRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPut, "/api/ringo/v1/release-policies/{collection}", kAdmin, SetPolicy},
      {kGet, "/api/ringo/v1/release-policies/{collection}", kRead, GetPolicy},
      {kDelete, "/api/ringo/v1/release-policies/{collection}", kAdmin, DeletePolicy},
      {kPost, "/api/ringo/v1/release-policies/{collection}/approve", kAdmin, ApproveCandidate},
  };
  return kRoutes;
}

}  // namespace ringo::api
