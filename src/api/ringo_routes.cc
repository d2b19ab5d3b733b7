// ringo's own read endpoints for the web UI: downsampled metric series and Core ML model
// cards of run artifacts.
#include <cmath>

#include "api/downsample.h"
#include "api/handlers.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"

namespace ringo::api {

void RegisterExtras(http::Router& router, Store* st, artifacts::Repository* repo) {
  // ---------------- ringo's own endpoints (the UI) ----------------
  // A long metric series reduced to `buckets` buckets over x (step or wall time), keeping each
  // bucket's min, max, first and last value, so a chart of a million points draws from a few
  // thousand and still shows every spike.
  router.Add(
      Method::kGet, "/api/ringo/v1/metrics/downsample", Access::kRead,
      Sync([st](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(Fields f, ReadFields(req));
        ASSIGN_OR_RETURN(std::string id, RunIdField(f));
        ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
        ASSIGN_OR_RETURN(auto buckets_opt, f.Int64("buckets"));
        int64_t buckets = buckets_opt.value_or(1000);
        if (buckets < 1 || buckets > 100000) {
          return InvalidArgument("buckets must be between 1 and 100000");
        }
        ASSIGN_OR_RETURN(auto x_opt, f.String("x"));
        std::string x = x_opt.value_or("step");
        if (x != "step" && x != "time") return InvalidArgument("x must be step or time");
        ASSIGN_OR_RETURN(auto start, f.Double("start"));
        ASSIGN_OR_RETURN(auto end, f.Double("end"));
        bool by_time = x == "time";
        std::vector<std::pair<double, double>> points;
        ASSIGN_OR_RETURN(
            std::string unused,
            st->VisitMetricHistory(id, key, 0, "", [&](double value, int64_t ts, int64_t step) {
              double px = by_time ? double(ts) : double(step);
              if (start && px < *start) return;
              if (end && px > *end) return;
              points.emplace_back(px, value);
            }));
        (void)unused;
        if (by_time) {
          std::stable_sort(points.begin(), points.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        std::string body;
        JsonWriter w(&body);
        w.BeginObject().Field("total", static_cast<int64_t>(points.size()));
        w.Key("points").BeginArray();
        for (const Bucket& b : Downsample(points, buckets)) {
          w.BeginObject()
              .Field("x", b.x)
              .Field("min", b.min)
              .Field("max", b.max)
              .Field("first", b.first)
              .Field("last", b.last)
              .Field("count", b.count)
              .EndObject();
        }
        w.EndArray().EndObject();
        return JsonResponse(std::move(body));
      }));

  // The model card of a Core ML artifact (.mlmodel file or .mlpackage directory) of a run.
  router.Add(Method::kGet, "/api/ringo/v1/coreml/inspect", Access::kRead,
             Sync([repo, st](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(RunArtifact a, ReadRunArtifact(req, st, repo));
               const std::string& rel = a.rel;
               const std::filesystem::path& full = a.full;
               auto model = coreml::Load(full);
               if (!model.ok()) {
                 if (model.status().code() == Code::kNotFound)
                   return NotFound("artifact '" + rel + "' not found");
                 return InvalidArgument("artifact '" + rel +
                                        "' is not a Core ML model: " + model.status().message());
               }
               coreml::Info info = coreml::Inspect(*model, full);
               std::string body = coreml::ModelCardJson(info, coreml::Validate(*model));
               return JsonResponse(std::move(body));
             }));
}

}  // namespace ringo::api
