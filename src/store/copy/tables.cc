// The store's tables as `ringo store copy` moves them: names, types, keys. Both engines define
// the same tables and columns (store/sqlite/schema.cc, store/postgres/schema.cc).
#include "store/copy/copy.h"

namespace ringo::store {

namespace {

Column K(const char* name, ColumnType type = ColumnType::kText) {
  return {name, type, false, true};
}
Column T(const char* name) { return {name, ColumnType::kText, false, false}; }
Column I(const char* name) { return {name, ColumnType::kInt, false, false}; }
Column N(const char* name) { return {name, ColumnType::kInt, true, false}; }
Column R(const char* name) { return {name, ColumnType::kReal, false, false}; }

constexpr ColumnType kInt = ColumnType::kInt;
constexpr ColumnType kReal = ColumnType::kReal;

std::vector<Table> Build() {
  return {
      {"experiments",
       {K("experiment_id", kInt), T("name"), T("artifact_location"), T("lifecycle_stage"),
        I("creation_time"), I("last_update_time")}},
      {"experiment_tags", {K("experiment_id", kInt), K("key"), T("value")}},
      {"runs",
       {K("run_id"), I("experiment_id"), T("name"), T("user_id"), T("status"), I("start_time"),
        N("end_time"), T("artifact_uri"), T("lifecycle_stage"), N("deleted_time")}},
      {"params", {K("run_id"), K("key"), T("value")}},
      {"tags", {K("run_id"), K("key"), T("value")}},
      {"metrics",
       {K("run_id"), K("key"), K("step", kInt), K("timestamp", kInt), K("value", kReal),
        K("is_nan", kInt)}},
      {"metric_chunks",
       {K("run_id"), K("key"), K("seq", kInt), I("count"), I("min_step"), I("max_step"),
        {"data", ColumnType::kBytes, false, false}}},
      {"latest_metrics",
       {K("run_id"), K("key"), I("step"), I("timestamp"), R("value"), I("is_nan")}},
      {"datasets",
       {K("dataset_id"), I("experiment_id"), T("name"), T("digest"), T("source_type"),
        T("source"), T("schema"), T("profile")}},
      {"inputs", {K("run_id"), K("dataset_id")}},
      {"input_tags", {K("run_id"), K("dataset_id"), K("key"), T("value")}},
      {"registered_models",
       {K("name"), I("creation_time"), I("last_updated_time"), T("description"),
        I("last_version")}},
      {"registered_model_tags", {K("name"), K("key"), T("value")}},
      {"registered_model_aliases", {K("name"), K("alias"), I("version")}},
      {"model_versions",
       {K("name"), K("version", kInt), I("creation_time"), I("last_updated_time"),
        T("description"), T("user_id"), T("current_stage"), T("source"), T("run_id"),
        T("run_link"), T("status"), T("coreml"), T("sha256"), T("tree_sha256"), I("size"),
        T("model_id")}},
      {"model_version_tags", {K("name"), K("version", kInt), K("key"), T("value")}},
      {"documents", {K("kind"), K("key"), T("value"), I("revision"), I("updated_time")}},
      {"events", {K("kind"), K("key"), K("seq", kInt), I("time"), T("value")}},
      {"model_metrics",
       {K("model_id"), K("key"), K("dataset_name"), K("dataset_digest"), K("step", kInt),
        K("timestamp", kInt), K("value", kReal), I("is_nan"), T("run_id")}},
  };
}

}  // namespace

const std::vector<Table>& StoreTables() {
  static const std::vector<Table> tables = Build();
  return tables;
}

}  // namespace ringo::store
