// MLflow's GraphQL endpoint (/graphql): MLflow 3's schema (generated there from its protos, plus
// the run's experiment and model versions and an echo field) as tables, each root field resolved
// by the REST handler MLflow's resolver calls.
#include <simdjson.h>

#include "api/graphql.h"
#include "api/handlers.h"
#include "api/routes.h"
#include "common/json_writer.h"

namespace ringo::api {

namespace {

using graphql::ArgDef;
using graphql::EnumType;
using graphql::FieldDef;
using graphql::InputField;
using graphql::InputType;
using graphql::Kind;
using graphql::ObjectType;
using graphql::ResolveContext;
using graphql::TypeRef;

constexpr TypeRef kStr{.kind = Kind::kString};
constexpr TypeRef kLong{.kind = Kind::kLong};  // MLflow's LongString: int64 as a string
constexpr TypeRef kInt{.kind = Kind::kInt};
constexpr TypeRef kFloat{.kind = Kind::kFloat};
constexpr TypeRef kBool{.kind = Kind::kBool};
constexpr TypeRef Obj(std::string_view name) { return {.kind = Kind::kObject, .object = name}; }
constexpr TypeRef Enum(std::string_view name) { return {.kind = Kind::kEnum, .object = name}; }
constexpr TypeRef List(TypeRef t) {
  t.list = true;
  return t;
}

// ---- resolvers: each is the REST call MLflow's resolver makes ----

// Who asks: the server's services and the GraphQL request, whose caller each inner call is
// made as (a user without admin rights gets that user's permissions).
struct Caller {
  const Services* services;
  const Request* request;
};

Result<std::string> Call(const ResolveContext& ctx, std::string_view path, std::string body) {
  const auto& caller = *static_cast<const Caller*>(ctx.user);
  http::Request req;
  req.method = http::Method::kPost;
  req.body = std::move(body);
  req.principal = caller.request->principal;
  req.scope = caller.request->scope;
  ASSIGN_OR_RETURN(http::Response res, CallSync(*caller.services, path, req));
  if (res.status < 400) return std::move(res.body);
  // An error answered as a response: its MLflow error message is the field's error.
  simdjson::dom::parser parser;
  std::string_view message;
  if (parser.parse(res.body)["message"].get(message)) message = res.body;
  return InvalidArgument(std::string(message));
}

template <const char* kPath>
Result<std::string> Rest(const ResolveContext& ctx) {
  return Call(ctx, kPath, ctx.Arg("input"));
}

constexpr char kGetExperiment[] = "experiments/get";
constexpr char kGetRun[] = "runs/get";
constexpr char kSearchRuns[] = "runs/search";
constexpr char kBulkInterval[] = "metrics/get-history-bulk-interval";
constexpr char kListArtifacts[] = "artifacts/list";
constexpr char kSearchVersions[] = "model-versions/search";
constexpr char kSearchDatasets[] = "experiments/search-datasets";

Result<std::string> Echo(const ResolveContext& ctx) {
  return "{\"output\":" + ctx.Arg("input_string", "null") + "}";
}

// The run's info member `key`, as a string ("" when the run has none).
std::string RunInfo(const ResolveContext& ctx, const char* key) {
  std::string_view value;
  if (ctx.has_parent && !ctx.parent["info"][key].get(value)) return std::string(value);
  return "";
}

Result<std::string> RunExperiment(const ResolveContext& ctx) {
  std::string body;
  JsonWriter(&body).BeginObject().Field("experiment_id", RunInfo(ctx, "experiment_id")).EndObject();
  return Call(ctx, kGetExperiment, std::move(body));
}

Result<std::string> RunModelVersions(const ResolveContext& ctx) {
  std::string body;
  JsonWriter(&body)
      .BeginObject()
      .Field("filter", "run_id='" + RunInfo(ctx, "run_id") + "'")
      .EndObject();
  return Call(ctx, kSearchVersions, std::move(body));
}

// ---- the schema ----

constexpr std::string_view kRunStatus[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
constexpr std::string_view kViewType[] = {"ACTIVE_ONLY", "DELETED_ONLY", "ALL"};
constexpr std::string_view kVersionStatus[] = {"PENDING_REGISTRATION", "FAILED_REGISTRATION",
                                               "READY"};
constexpr std::string_view kJobConnection[] = {"DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED",
                                               "NOT_SET_UP", "CONNECTED", "NOT_FOUND",
                                               "REQUIRED_PARAMETERS_CHANGED"};
constexpr std::string_view kJobRun[] = {"DEPLOYMENT_JOB_RUN_STATE_UNSPECIFIED",
                                        "NO_VALID_DEPLOYMENT_JOB_FOUND", "RUNNING", "SUCCEEDED",
                                        "FAILED", "PENDING", "APPROVAL"};
constexpr EnumType kEnums[] = {
    {"MlflowRunStatus", kRunStatus},
    {"MlflowViewType", kViewType},
    {"MlflowModelVersionStatus", kVersionStatus},
    {"MlflowDeploymentJobConnectionState", kJobConnection},
    {"MlflowModelVersionDeploymentJobStateDeploymentJobRunState", kJobRun},
};

constexpr FieldDef kKeyValue[] = {{"key", kStr}, {"value", kStr}};
constexpr FieldDef kOutput[] = {{"output", kStr}};
constexpr FieldDef kErrorDetail[] = {{"field", kStr}, {"message", kStr}};
constexpr FieldDef kApiError[] = {{"code", kStr}, {"message", kStr}, {"helpUrl", kStr},
                                  {"traceId", kStr}, {"errorDetails", List(Obj("ErrorDetail"))}};
// MLflow's resolvers never fill apiError: it is always null.
constexpr FieldDef ApiErrorField() {
  return {.name = "apiError", .type = Obj("ApiError"), .null_when_absent = true};
}

constexpr FieldDef kExperiment[] = {
    {"experimentId", kStr},     {"name", kStr},
    {"artifactLocation", kStr}, {"lifecycleStage", kStr},
    {"lastUpdateTime", kLong},  {"creationTime", kLong},
    {"tags", List(Obj("MlflowExperimentTag"))},
    {"effectiveTraceArchivalRetention", kStr}, {"workspace", kStr}};
constexpr FieldDef kGetExperimentResponse[] = {{"experiment", Obj("MlflowExperiment")},
                                               ApiErrorField()};

constexpr FieldDef kRunInfo[] = {
    {"runId", kStr},       {"runUuid", kStr},  {"runName", kStr},
    {"experimentId", kStr}, {"userId", kStr},  {"status", Enum("MlflowRunStatus")},
    {"startTime", kLong},  {"endTime", kLong}, {"artifactUri", kStr},
    {"lifecycleStage", kStr}};
constexpr FieldDef kMetric[] = {{"key", kStr},         {"value", kFloat},
                                {"timestamp", kLong},  {"step", kLong},
                                {"datasetName", kStr}, {"datasetDigest", kStr},
                                {"modelId", kStr},     {"runId", kStr}};
constexpr FieldDef kRunData[] = {{"metrics", List(Obj("MlflowMetric"))},
                                 {"params", List(Obj("MlflowParam"))},
                                 {"tags", List(Obj("MlflowRunTag"))}};
constexpr FieldDef kDataset[] = {{"name", kStr},   {"digest", kStr}, {"sourceType", kStr},
                                 {"source", kStr}, {"schema", kStr}, {"profile", kStr}};
constexpr FieldDef kDatasetInput[] = {{"tags", List(Obj("MlflowInputTag"))},
                                      {"dataset", Obj("MlflowDataset")}};
constexpr FieldDef kModelInput[] = {{"modelId", kStr}};
constexpr FieldDef kRunInputs[] = {{"datasetInputs", List(Obj("MlflowDatasetInput"))},
                                   {"modelInputs", List(Obj("MlflowModelInput"))}};
constexpr FieldDef kModelOutput[] = {{"modelId", kStr}, {"step", kLong}};
constexpr FieldDef kRunOutputs[] = {{"modelOutputs", List(Obj("MlflowModelOutput"))}};
constexpr FieldDef kRun[] = {
    {"info", Obj("MlflowRunInfo")},
    {"data", Obj("MlflowRunData")},
    {"inputs", Obj("MlflowRunInputs")},
    {"outputs", Obj("MlflowRunOutputs")},
    {.name = "experiment", .type = Obj("MlflowExperiment"), .resolve = RunExperiment,
     .pick = "experiment"},
    {.name = "modelVersions", .type = List(Obj("MlflowModelVersion")),
     .resolve = RunModelVersions, .pick = "model_versions"}};
constexpr FieldDef kGetRunResponse[] = {{"run", Obj("MlflowRun")}, ApiErrorField()};
constexpr FieldDef kSearchRunsResponse[] = {
    {"runs", List(Obj("MlflowRun"))}, {"nextPageToken", kStr}, ApiErrorField()};

constexpr FieldDef kMetricWithRunId[] = {{"key", kStr},  {"value", kFloat}, {"timestamp", kLong},
                                         {"step", kLong}, {"runId", kStr}};
constexpr FieldDef kBulkIntervalResponse[] = {{"metrics", List(Obj("MlflowMetricWithRunId"))},
                                              ApiErrorField()};
constexpr FieldDef kFileInfo[] = {{"path", kStr}, {"isDir", kBool}, {"fileSize", kLong}};
constexpr FieldDef kListArtifactsResponse[] = {{"rootUri", kStr},
                                               {"files", List(Obj("MlflowFileInfo"))},
                                               {"nextPageToken", kStr},
                                               ApiErrorField()};
constexpr FieldDef kDatasetSummary[] = {
    {"experimentId", kStr}, {"name", kStr}, {"digest", kStr}, {"context", kStr}};
constexpr FieldDef kSearchDatasetsResponse[] = {
    {"datasetSummaries", List(Obj("MlflowDatasetSummary"))}, ApiErrorField()};

constexpr FieldDef kModelParam[] = {{"name", kStr}, {"value", kStr}};
constexpr FieldDef kJobState[] = {
    {"jobId", kStr},
    {"runId", kStr},
    {"jobState", Enum("MlflowDeploymentJobConnectionState")},
    {"runState", Enum("MlflowModelVersionDeploymentJobStateDeploymentJobRunState")},
    {"currentTaskName", kStr}};
constexpr FieldDef kModelVersion[] = {
    {"name", kStr},
    {"version", kStr},
    {"creationTimestamp", kLong},
    {"lastUpdatedTimestamp", kLong},
    {"userId", kStr},
    {"currentStage", kStr},
    {"description", kStr},
    {"source", kStr},
    {"runId", kStr},
    {"status", Enum("MlflowModelVersionStatus")},
    {"statusMessage", kStr},
    {"tags", List(Obj("MlflowModelVersionTag"))},
    {"runLink", kStr},
    {"aliases", List(kStr)},
    {"modelId", kStr},
    {"modelParams", List(Obj("MlflowModelParam"))},
    {"modelMetrics", List(Obj("MlflowModelMetric"))},
    {"deploymentJobState", Obj("MlflowModelVersionDeploymentJobState")}};
constexpr FieldDef kSearchVersionsResponse[] = {
    {"modelVersions", List(Obj("MlflowModelVersion"))}, {"nextPageToken", kStr}, ApiErrorField()};

constexpr ArgDef kInputString[] = {{"inputString", kStr}};
constexpr ArgDef kGetExperimentArgs[] = {{"input", Obj("MlflowGetExperimentInput")}};
constexpr ArgDef kGetRunArgs[] = {{"input", Obj("MlflowGetRunInput")}};
constexpr ArgDef kSearchRunsArgs[] = {{"input", Obj("MlflowSearchRunsInput")}};
constexpr ArgDef kBulkIntervalArgs[] = {{"input", Obj("MlflowGetMetricHistoryBulkIntervalInput")}};
constexpr ArgDef kListArtifactsArgs[] = {{"input", Obj("MlflowListArtifactsInput")}};
constexpr ArgDef kSearchVersionsArgs[] = {{"input", Obj("MlflowSearchModelVersionsInput")}};
constexpr ArgDef kSearchDatasetsArgs[] = {{"input", Obj("MlflowSearchDatasetsInput")}};

constexpr FieldDef Root(std::string_view name, std::string_view type,
                        graphql::Resolver resolve, std::span<const ArgDef> args) {
  return {.name = name, .type = Obj(type), .resolve = resolve, .args = args};
}

constexpr FieldDef kQuery[] = {
    Root("mlflowGetExperiment", "MlflowGetExperimentResponse", Rest<kGetExperiment>,
         kGetExperimentArgs),
    Root("mlflowGetMetricHistoryBulkInterval", "MlflowGetMetricHistoryBulkIntervalResponse",
         Rest<kBulkInterval>, kBulkIntervalArgs),
    Root("mlflowGetRun", "MlflowGetRunResponse", Rest<kGetRun>, kGetRunArgs),
    Root("mlflowListArtifacts", "MlflowListArtifactsResponse", Rest<kListArtifacts>,
         kListArtifactsArgs),
    Root("mlflowSearchModelVersions", "MlflowSearchModelVersionsResponse",
         Rest<kSearchVersions>, kSearchVersionsArgs),
    Root("mlflowSearchRuns", "MlflowSearchRunsResponse", Rest<kSearchRuns>, kSearchRunsArgs),
    Root("test", "Test", Echo, kInputString)};
constexpr FieldDef kMutation[] = {
    Root("mlflowSearchDatasets", "MlflowSearchDatasetsResponse", Rest<kSearchDatasets>,
         kSearchDatasetsArgs),
    Root("mlflowSearchRuns", "MlflowSearchRunsResponse", Rest<kSearchRuns>, kSearchRunsArgs),
    Root("testMutation", "TestMutation", Echo, kInputString)};

constexpr ObjectType kObjects[] = {
    {"Query", kQuery},
    {"Mutation", kMutation},
    {"Test", kOutput},
    {"TestMutation", kOutput},
    {"ApiError", kApiError},
    {"ErrorDetail", kErrorDetail},
    {"MlflowExperimentTag", kKeyValue},
    {"MlflowExperiment", kExperiment},
    {"MlflowGetExperimentResponse", kGetExperimentResponse},
    {"MlflowRunInfo", kRunInfo},
    {"MlflowMetric", kMetric},
    {"MlflowParam", kKeyValue},
    {"MlflowRunTag", kKeyValue},
    {"MlflowRunData", kRunData},
    {"MlflowDataset", kDataset},
    {"MlflowInputTag", kKeyValue},
    {"MlflowDatasetInput", kDatasetInput},
    {"MlflowModelInput", kModelInput},
    {"MlflowRunInputs", kRunInputs},
    {"MlflowModelOutput", kModelOutput},
    {"MlflowRunOutputs", kRunOutputs},
    {"MlflowRun", kRun},
    {"MlflowGetRunResponse", kGetRunResponse},
    {"MlflowSearchRunsResponse", kSearchRunsResponse},
    {"MlflowMetricWithRunId", kMetricWithRunId},
    {"MlflowGetMetricHistoryBulkIntervalResponse", kBulkIntervalResponse},
    {"MlflowFileInfo", kFileInfo},
    {"MlflowListArtifactsResponse", kListArtifactsResponse},
    {"MlflowDatasetSummary", kDatasetSummary},
    {"MlflowSearchDatasetsResponse", kSearchDatasetsResponse},
    {"MlflowModelVersionTag", kKeyValue},
    {"MlflowModelParam", kModelParam},
    {"MlflowModelMetric", kMetric},
    {"MlflowModelVersionDeploymentJobState", kJobState},
    {"MlflowModelVersion", kModelVersion},
    {"MlflowSearchModelVersionsResponse", kSearchVersionsResponse},
};

constexpr InputField kGetExperimentInput[] = {{"experimentId", kStr}};
constexpr InputField kGetRunInput[] = {{"runId", kStr}, {"runUuid", kStr}};
constexpr InputField kSearchRunsInput[] = {
    {"experimentIds", List(kStr)}, {"filter", kStr},        {"runViewType", Enum("MlflowViewType")},
    {"maxResults", kInt},          {"orderBy", List(kStr)}, {"pageToken", kStr}};
constexpr InputField kBulkIntervalInput[] = {{"runIds", List(kStr)}, {"metricKey", kStr},
                                             {"startStep", kInt},    {"endStep", kInt},
                                             {"maxResults", kInt}};
constexpr InputField kListArtifactsInput[] = {
    {"runId", kStr}, {"runUuid", kStr}, {"path", kStr}, {"pageToken", kStr}};
constexpr InputField kSearchVersionsInput[] = {
    {"filter", kStr}, {"maxResults", kLong}, {"orderBy", List(kStr)}, {"pageToken", kStr}};
constexpr InputField kSearchDatasetsInput[] = {{"experimentIds", List(kStr)}};
constexpr InputType kInputs[] = {
    {"MlflowGetExperimentInput", kGetExperimentInput},
    {"MlflowGetRunInput", kGetRunInput},
    {"MlflowSearchRunsInput", kSearchRunsInput},
    {"MlflowGetMetricHistoryBulkIntervalInput", kBulkIntervalInput},
    {"MlflowListArtifactsInput", kListArtifactsInput},
    {"MlflowSearchModelVersionsInput", kSearchVersionsInput},
    {"MlflowSearchDatasetsInput", kSearchDatasetsInput},
};

constexpr graphql::Schema kSchema{.objects = kObjects,
                                  .inputs = kInputs,
                                  .enums = kEnums,
                                  .query = "Query",
                                  .mutation = "Mutation"};

// ---- the endpoint ----

// The query, operation name and variables of a request: a JSON body (MLflow's web UI POSTs one),
// or for a GET without one, the query string as GraphQL over HTTP puts them there.
struct GraphqlRequest {
  std::string query;
  std::string operation_name;
  std::string variables;
};

Result<GraphqlRequest> ReadGraphqlRequest(const Request& req) {
  GraphqlRequest g;
  if (req.body.empty() && req.method == http::Method::kGet) {
    ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
    ASSIGN_OR_RETURN(g.query, f.RequiredString("query"));
    ASSIGN_OR_RETURN(g.operation_name, f.StringOr("operationName", ""));
    ASSIGN_OR_RETURN(g.variables, f.StringOr("variables", ""));
    return g;
  }
  // Its own parser: the resolvers run REST handlers, which reuse the thread's.
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(req.body).get_object().get(body)) {
    return InvalidArgument("GraphQL request body must be a JSON object");
  }
  std::string_view text;
  if (body["query"].get(text)) return MissingField("query");
  g.query = std::string(text);
  if (!body["operationName"].get(text)) g.operation_name = std::string(text);
  simdjson::dom::element vars;
  if (!body["variables"].get(vars) && !vars.is_null()) {
    if (!vars.is_object()) return InvalidArgument("GraphQL variables must be a JSON object");
    g.variables = simdjson::minify(vars);
  }
  return g;
}

// MLflow answers every query 200 with {"data", "errors"}; only a request that carries no
// query is refused, in MLflow's error format.
Result<Response> Graphql(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(GraphqlRequest g, ReadGraphqlRequest(req));
  Caller caller{&s, &req};
  return JsonResponse(
      graphql::Execute(kSchema, g.query, g.variables, g.operation_name, &caller));
}

}  // namespace

std::span<const Route> GraphqlRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "/graphql", kRead, Graphql},
      {kGet, "/graphql", kRead, Graphql},
  };
  return kRoutes;
}

}  // namespace ringo::api
