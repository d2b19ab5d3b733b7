// The ringo command line: parses arguments and dispatches to subcommands.
#include "cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/coreml_commands.h"
#include "cli/device_command.h"
#include "cli/server_command.h"
#include "client/client.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "pipeline/pipeline.h"

namespace ringo::cli {

namespace {

using client::Json;

constexpr const char* kVersion = "0.1.0";

// MLflow's variable first, then ringo's twin, then the local default.
std::string EnvOr(const char* a, const char* b, std::string fallback) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (const char* v = std::getenv(b); v && *v) return v;
  return fallback;
}

// Reports a failed Status. Every failure exits 1 (CLI11 uses 2 for usage errors); the message
// names the problem.
int Fail(const Status& s) {
  std::cerr << "ringo: error: " << s.message() << std::endl;
  return 1;
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  time_t secs = static_cast<time_t>(ms / 1000);
  char buf[32];
  struct tm tm {};
  gmtime_r(&secs, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void PrintRunRow(const Json& run) {
  const Json& info = run["info"];
  std::cout << info.value("run_id", "") << "  " << info.value("status", "") << "  "
            << FormatTime(info.value("start_time", int64_t{0})) << "  "
            << info.value("run_name", "") << "\n";
}

void PrintRun(const Json& run) {
  const Json& info = run["info"];
  std::cout << "run " << info.value("run_id", "") << " (" << info.value("run_name", "") << ")\n"
            << "  experiment: " << info.value("experiment_id", "") << "\n"
            << "  status:     " << info.value("status", "") << " ("
            << info.value("lifecycle_stage", "") << ")\n"
            << "  started:    " << FormatTime(info.value("start_time", int64_t{0})) << "\n"
            << "  artifacts:  " << info.value("artifact_uri", "") << "\n";
  const Json& data = run.contains("data") ? run["data"] : Json::object();
  for (const char* section : {"params", "metrics", "tags"}) {
    if (!data.contains(section)) continue;
    std::cout << "  " << section << ":\n";
    for (const Json& kv : data[section]) {
      std::cout << "    " << kv.value("key", "") << " = ";
      if (kv["value"].is_string()) {
        std::cout << kv["value"].get<std::string>();
      } else {
        std::cout << kv["value"].dump();
      }
      if (kv.contains("step")) std::cout << "  (step " << kv["step"].dump() << ")";
      std::cout << "\n";
    }
  }
}

struct Common {
  std::string tracking_uri;
  bool json = false;
};

Result<std::unique_ptr<client::Client>> Connect(const Common& c) {
  std::string uri = c.tracking_uri.empty() ? EnvOr("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI",
                                                   "http://127.0.0.1:5000")
                                           : c.tracking_uri;
  return client::Client::Connect(uri);
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The interface an app was built against, as JSON: inspected from the bundled .mlmodel or
// .mlpackage, or read from a file `ringo inspect --json` wrote.
Result<Json> InterfaceOf(const std::string& path) {
  std::string ext = ToLower(std::filesystem::path(path).extension().string());
  if (ext == ".json") {
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return InvalidArgument("'" + path + "' is not JSON");
    return j;
  }
  ASSIGN_OR_RETURN(coreml::Model model, coreml::Load(path));
  return Json::parse(coreml::InfoToJson(coreml::Inspect(model, path)));
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

Result<std::string> RunIdFromEnv(const std::string& flag) {
  std::string id = flag.empty() ? EnvOr("MLFLOW_RUN_ID", "RINGO_RUN_ID", "") : flag;
  if (id.empty()) {
    return InvalidArgument("no run: pass --run-id or set MLFLOW_RUN_ID (or RINGO_RUN_ID)");
  }
  return id;
}

}  // namespace

int Main(int argc, char** argv) {
  // The one safety net of the CLI: nothing escapes as an exception.
  try {
    CLI::App app{"ringo: MLOps for Core ML (tracking server, MLflow-compatible)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", kVersion);

    // ---- server ----
    ServerFlags sf;
    auto* server = app.add_subcommand("server", "Serve the tracking API on the embedded store");
    server->add_option("--host", sf.host, "Address to listen on")->capture_default_str();
    server->add_option("--port", sf.port, "Port (0 picks a free one)")->capture_default_str();
    server->add_option("--store", sf.store_dir, "Directory holding ringo.db and artifacts/")
        ->capture_default_str();
    server->add_option("--backend-store-uri", sf.backend_store_uri,
                       "MLflow spelling of the store: sqlite:///PATH");
    server->add_option("--artifacts-destination", sf.artifacts_destination,
                       "Directory for artifacts (default: <store>/artifacts)");
    server->add_option("--threads", sf.threads, "I/O threads (default: cores, at most 4)");
    server->add_flag("--sync-full", sf.sync_full,
                     "fsync every commit (survives power loss, slower)");

    Common common;
    auto add_common = [&common](CLI::App* cmd) {
      cmd->add_option("--tracking-uri", common.tracking_uri,
                      "Server URL (default: $MLFLOW_TRACKING_URI, $RINGO_TRACKING_URI, "
                      "http://127.0.0.1:5000)");
      cmd->add_flag("--json", common.json, "Print JSON");
    };

    // ---- experiments ----
    auto* experiments = app.add_subcommand("experiments", "List and manage experiments");
    experiments->require_subcommand(1);
    auto* exp_list = experiments->add_subcommand("list", "List experiments");
    bool exp_all = false;
    exp_list->add_flag("--all", exp_all, "Include deleted experiments");
    auto* exp_create = experiments->add_subcommand("create", "Create an experiment");
    std::string exp_name, exp_id, exp_new_name;
    exp_create->add_option("name", exp_name, "Experiment name")->required();
    auto* exp_get = experiments->add_subcommand("get", "Show an experiment");
    exp_get->add_option("id", exp_id, "Experiment id")->required();
    auto* exp_delete = experiments->add_subcommand("delete", "Delete an experiment");
    exp_delete->add_option("id", exp_id, "Experiment id")->required();
    auto* exp_restore = experiments->add_subcommand("restore", "Restore a deleted experiment");
    exp_restore->add_option("id", exp_id, "Experiment id")->required();
    auto* exp_rename = experiments->add_subcommand("rename", "Rename an experiment");
    exp_rename->add_option("id", exp_id, "Experiment id")->required();
    exp_rename->add_option("name", exp_new_name, "New name")->required();
    for (auto* c : {exp_list, exp_create, exp_get, exp_delete, exp_restore, exp_rename})
      add_common(c);

    // ---- runs ----
    auto* runs = app.add_subcommand("runs", "List, show and search runs");
    runs->require_subcommand(1);
    std::string runs_exp = "0", run_id, filter;
    std::vector<std::string> order_by;
    int64_t max_results = 100;
    auto* runs_list = runs->add_subcommand("list", "List the runs of an experiment");
    runs_list->add_option("--experiment-id", runs_exp, "Experiment id")->capture_default_str();
    runs_list->add_option("--max-results", max_results)->capture_default_str();
    auto* runs_show = runs->add_subcommand("show", "Show one run");
    runs_show->add_option("run_id", run_id, "Run id")->required();
    auto* runs_search = runs->add_subcommand("search", "Search runs with MLflow's filter language");
    runs_search->add_option("--experiment-id", runs_exp, "Experiment id")->capture_default_str();
    runs_search->add_option("--filter", filter, "e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"");
    runs_search->add_option("--order-by", order_by, "e.g. \"metrics.acc DESC\" (repeatable)");
    runs_search->add_option("--max-results", max_results)->capture_default_str();
    for (auto* c : {runs_list, runs_show, runs_search}) add_common(c);

    // ---- log ----
    auto* log = app.add_subcommand("log", "Log to the current run ($MLFLOW_RUN_ID)");
    log->require_subcommand(1);
    std::string key, value, local_path, artifact_path, log_run;
    int64_t step = 0;
    int64_t timestamp = 0;
    auto* log_param = log->add_subcommand("param", "Log a parameter");
    log_param->add_option("key", key)->required();
    log_param->add_option("value", value)->required();
    auto* log_metric = log->add_subcommand("metric", "Log a metric value");
    log_metric->add_option("key", key)->required();
    log_metric->add_option("value", value)->required();
    log_metric->add_option("--step", step)->capture_default_str();
    log_metric->add_option("--timestamp", timestamp, "Milliseconds since the epoch (default now)");
    auto* log_artifact = log->add_subcommand("artifact", "Upload a file or directory");
    log_artifact->add_option("path", local_path)->required();
    log_artifact->add_option("--artifact-path", artifact_path,
                             "Directory within the run's artifacts");
    for (auto* c : {log_param, log_metric, log_artifact}) {
      add_common(c);
      c->add_option("--run-id", log_run, "Run id (default: $MLFLOW_RUN_ID, $RINGO_RUN_ID)");
    }

    // ---- Core ML ----
    std::string model_path, other_path;
    bool inspect_json = false, inspect_validate = false, diff_json = false;
    auto* inspect = app.add_subcommand("inspect", "Describe a .mlmodel or .mlpackage");
    inspect->add_option("path", model_path, "Model file or package")->required();
    inspect->add_flag("--json", inspect_json, "Print JSON");
    inspect->add_flag("--validate", inspect_validate,
                      "Also run the loader's checks; exit 1 when invalid");
    auto* diff = app.add_subcommand(
        "diff", "Compare two models' interfaces; exit 0 compatible, 1 breaking, 2 unreadable");
    diff->add_option("old", model_path, "The model apps were built against")->required();
    diff->add_option("new", other_path, "The candidate model")->required();
    diff->add_flag("--json", diff_json, "Print JSON");

    // ---- run ----
    pipeline::RunOptions ro;
    std::string run_dir = ".";
    std::vector<std::string> run_params;
    bool no_cache = false;
    std::string run_store = "ringo-data";
    auto* run = app.add_subcommand("run", "Run an MLproject (its steps, or one entry point)");
    run->add_option("dir", run_dir, "Project directory")->capture_default_str();
    run->add_option("-e,--entry-point", ro.entry_point, "Entry point")->capture_default_str();
    run->add_option("-P,--param", run_params, "KEY=VALUE (repeatable)");
    run->add_option("--experiment-name", ro.experiment_name, "Experiment (created if needed)");
    run->add_option("--experiment-id", ro.experiment_id, "Experiment id");
    run->add_option("--run-name", ro.run_name, "Name of the run");
    run->add_option("--env-manager", ro.env_manager, "local or docker")->capture_default_str();
    run->add_flag("--no-cache", no_cache, "Run every step, ignoring the step cache");
    run->add_option("--jobs", ro.jobs, "Steps to run at once")->capture_default_str();
    run->add_option("--store", run_store, "Embedded store when no tracking URI is given")
        ->capture_default_str();
    run->add_option("--tracking-uri", ro.tracking_uri,
                    "Log to this server (default: $MLFLOW_TRACKING_URI, else the embedded store)");
    run->add_option("--parent-run-id", ro.parent_run_id, "Make the run a nested run of this one");

    // ---- models ----
    auto* models = app.add_subcommand("models", "The model registry");
    models->require_subcommand(1);
    std::string reg_path, reg_name, reg_run;
    auto* models_register = models->add_subcommand(
        "register",
        "Register a model file/dir (or runs:/ or mlflow-artifacts: URI) as a new version");
    models_register->add_option("path", reg_path, "Local .mlmodel/.mlpackage/dir, or a URI")
        ->required();
    models_register->add_option("--name", reg_name, "Registered model name")->required();
    models_register->add_option("--run-id", reg_run,
                                "Run to attach the files to (default: a new run)");
    add_common(models_register);

    // ---- device simulation ----
    SimulateFlags sim;
    auto* device = app.add_subcommand("device", "Simulated devices (through the device SDK)");
    device->require_subcommand(1);
    auto* simulate = device->add_subcommand("simulate", "Drive N simulated devices; print what they hold");
    simulate->add_option("--tracking-uri", sim.tracking_uri, "Server URL")->required();
    simulate->add_option("--token", sim.token, "Device token (when the server has tokens)");
    simulate->add_option("--collection", sim.collection)->required();
    simulate->add_option("--channel", sim.channel)->required();
    simulate->add_option("--count", sim.count, "Devices")->capture_default_str();
    simulate->add_option("--attr", sim.attrs, "KEY=VALUE: device_class, os, os_version, app_version, region, language, id_prefix");
    simulate->add_option("--storage", sim.storage, "Keep the devices' storage here (default: temporary)");
    simulate->add_flag("--json", sim.json, "Print JSON");

    // ---- tokens ----
    std::string token_scope, token_name;
    auto* tokens =
        app.add_subcommand("tokens", "API tokens (once one exists, every call needs one)");
    tokens->require_subcommand(1);
    auto* tokens_create = tokens->add_subcommand("create", "Create a token; it is printed once");
    tokens_create->add_option("--scope", token_scope, "admin, write, read or device")->required();
    tokens_create->add_option("--name", token_name, "What it is for");
    add_common(tokens_create);

    // ---- delivery ----
    std::string dep_collection, dep_channel, dep_id, dep_reason;
    std::vector<std::string> dep_models;
    int dep_rollout = 100;
    bool dep_force = false;
    auto* collections = app.add_subcommand("collections", "Collections of models shipped together");
    collections->require_subcommand(1);
    auto* coll_create = collections->add_subcommand("create", "Create a collection");
    coll_create->add_option("name", dep_collection)->required();
    coll_create->add_option("--model", dep_models, "Registered model (repeatable)")->required();
    auto* coll_list = collections->add_subcommand("list", "List collections and their channels");
    auto* deployments = app.add_subcommand("deployments", "Immutable snapshots of a collection");
    deployments->require_subcommand(1);
    auto* dep_create =
        deployments->add_subcommand("create", "Freeze model versions; prints the deployment id");
    dep_create->add_option("collection", dep_collection)->required();
    dep_create->add_option("--model", dep_models, "NAME=VERSION (repeatable)")->required();
    auto* channels = app.add_subcommand("channels", "Staging/release channels of a collection");
    channels->require_subcommand(1);
    auto* ch_promote = channels->add_subcommand("promote", "Point a channel at a deployment");
    ch_promote->add_option("collection", dep_collection)->required();
    ch_promote->add_option("channel", dep_channel)->required();
    ch_promote->add_option("deployment", dep_id)->required();
    ch_promote->add_option("--rollout", dep_rollout, "Percent of devices (staged rollout)")
        ->capture_default_str();
    ch_promote->add_option("--reason", dep_reason, "Why (recorded in the history)");
    ch_promote->add_flag("--force", dep_force,
                         "Promote despite a breaking interface change (needs --reason)");
    auto* ch_rollout =
        channels->add_subcommand("rollout", "Change the rollout percent (100 completes it)");
    ch_rollout->add_option("collection", dep_collection)->required();
    ch_rollout->add_option("channel", dep_channel)->required();
    ch_rollout->add_option("percent", dep_rollout)->required();
    ch_rollout->add_option("--reason", dep_reason, "Why (recorded in the history)");
    auto* ch_rollback = channels->add_subcommand("rollback", "Back to the previous deployment");
    ch_rollback->add_option("collection", dep_collection)->required();
    ch_rollback->add_option("channel", dep_channel)->required();
    ch_rollback->add_option("--reason", dep_reason, "Why (recorded in the history)");
    auto* ch_history = channels->add_subcommand("history", "Every change of a channel");
    ch_history->add_option("collection", dep_collection)->required();
    ch_history->add_option("channel", dep_channel)->required();
    std::string rules_file, app_versions, hook_url, hook_secret, hook_id;
    bool rules_clear = false;
    auto* ch_rules = channels->add_subcommand(
        "rules", "Show or set the targeting rules of a channel (first match wins)");
    ch_rules->add_option("collection", dep_collection)->required();
    ch_rules->add_option("channel", dep_channel)->required();
    auto* rules_set =
        ch_rules->add_option("--set", rules_file, "JSON file: an array of rules (see docs)");
    ch_rules->add_flag("--clear", rules_clear, "Remove every rule")->excludes(rules_set);
    ch_rules->add_option("--reason", dep_reason, "Why (recorded in the history)");
    ch_rules->add_flag("--force", dep_force,
                       "Set despite a breaking interface change (needs --reason)");
    auto* apps = app.add_subcommand("apps", "Interfaces app versions were built against");
    apps->require_subcommand(1);
    auto* apps_contract = apps->add_subcommand(
        "contract", "Declare the model interfaces an app version range was built against");
    apps_contract->add_option("collection", dep_collection)->required();
    apps_contract->add_option("--app-versions", app_versions, "e.g. \">=2.0,<3.0\"")->required();
    apps_contract
        ->add_option("--model", dep_models,
                     "NAME=PATH of the bundled .mlmodel/.mlpackage or its `ringo inspect --json` "
                     "(repeatable)")
        ->required();
    auto* apps_list = apps->add_subcommand("list", "The contracts of a collection");
    apps_list->add_option("collection", dep_collection)->required();
    auto* apps_remove = apps->add_subcommand("remove", "Remove the contract of an app range");
    apps_remove->add_option("collection", dep_collection)->required();
    apps_remove->add_option("--app-versions", app_versions, "The range, as declared")->required();
    auto* webhooks = app.add_subcommand("webhooks", "POST channel changes to URLs");
    webhooks->require_subcommand(1);
    auto* hooks_add = webhooks->add_subcommand("add", "Add a webhook; prints its id");
    hooks_add->add_option("url", hook_url, "http:// URL")->required();
    hooks_add->add_option("--secret", hook_secret,
                          "Sign bodies: X-Ringo-Webhook-Signature: sha256=HMAC-SHA256 hex");
    hooks_add->add_option("--collection", dep_collection, "Only this collection (default: all)");
    auto* hooks_list = webhooks->add_subcommand("list", "List webhooks");
    hooks_list->add_option("--collection", dep_collection, "Those called for this collection");
    auto* hooks_remove = webhooks->add_subcommand("remove", "Remove a webhook");
    hooks_remove->add_option("id", hook_id)->required();
    auto* deploy_cmd = app.add_subcommand("deploy", "Delivery settings");
    deploy_cmd->require_subcommand(1);
    auto* deploy_keys = deploy_cmd->add_subcommand("keys", "Print the manifest signing public key");
    for (auto* c : {coll_create, coll_list, dep_create, ch_promote, ch_rollout, ch_rollback,
                    ch_history, ch_rules, apps_contract, apps_list, apps_remove, hooks_add,
                    hooks_list, hooks_remove, deploy_keys}) {
      add_common(c);
    }

    std::vector<std::string> predict_inputs;
    bool predict_json = false;
    auto* predict = app.add_subcommand("predict", "Run a Core ML model on the reference evaluator");
    predict->add_option("path", model_path, "Model file or package")->required();
    predict->add_option("-i,--input", predict_inputs, "NAME=FILE (.npy, .png, .json); repeatable")
        ->required();
    predict->add_flag("--json", predict_json, "Print JSON");

    ConvertFlags cf;
    auto* convert_cmd = app.add_subcommand(
        "convert", "Convert ONNX to Core ML (.mlmodel: NeuralNetwork, .mlpackage: ML Program)");
    convert_cmd->add_option("input", cf.input, "ONNX model")->required();
    convert_cmd->add_option("-o,--output", cf.output, "OUT.mlmodel or OUT.mlpackage")->required();
    convert_cmd->add_option("--precision", cf.precision, "fp32 or fp16")->capture_default_str();
    convert_cmd->add_option("--classifier-labels", cf.labels_file, "File with one label per line");
    convert_cmd->add_option("--image-input", cf.image_input, "Declare this input as an image");
    convert_cmd->add_option("--image-scale", cf.image_scale, "Pixel scale")->capture_default_str();
    convert_cmd->add_option("--image-bias", cf.image_bias, "Per-channel bias R,G,B (or one value)");
    convert_cmd->add_option("--color-layout", cf.color_layout, "RGB, BGR or GRAYSCALE")
        ->capture_default_str();
    convert_cmd->add_option("--rename-input", cf.input_renames, "OLD=NEW (repeatable)");
    convert_cmd->add_option("--rename-output", cf.output_renames, "OLD=NEW (repeatable)");
    convert_cmd->add_option("--minimum-deployment-target", cf.minimum_deployment_target,
                            "iOS15, macOS12, ...");
    convert_cmd->add_option("--metadata", cf.metadata, "KEY=VALUE (repeatable)");

    auto* version = app.add_subcommand("version", "Print the version");

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }

    if (version->parsed()) {
      std::cout << "ringo " << kVersion << "\n";
      return 0;
    }
    if (inspect->parsed()) return RunInspect(model_path, inspect_json, inspect_validate);
    if (run->parsed()) {
      ro.project_dir = run_dir;
      ro.use_cache = !no_cache;
      for (const std::string& p : run_params) {
        size_t eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
          return Fail(InvalidArgument("-P expects KEY=VALUE; got '" + p + "'"));
        ro.parameters[p.substr(0, eq)] = p.substr(eq + 1);
      }
      if (ro.tracking_uri.empty())
        ro.tracking_uri = EnvOr("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "");
      if (ro.parent_run_id.empty() && std::getenv("RINGO_PARENT_RUN_ID")) {
        ro.parent_run_id = std::getenv("RINGO_PARENT_RUN_ID");
      }
      ro.live_status =
          isatty(1) && std::getenv("TERM") && std::string(std::getenv("TERM")) != "dumb";
      // No tracking server given: serve the embedded store on a loopback port for the run, so
      // steps log over HTTP like any MLflow client.
      std::unique_ptr<TrackingService> embedded;
      if (ro.tracking_uri.empty()) {
        ServerFlags flags;
        flags.port = 0;
        flags.store_dir = run_store;
        flags.threads = 2;
        auto svc = TrackingService::Start(flags);
        if (!svc.ok()) return Fail(svc.status());
        embedded = std::move(*svc);
        ro.tracking_uri = embedded->url();
        std::cout << "ringo: tracking to the embedded store " << run_store << "/ (served at "
                  << ro.tracking_uri << " during the run)" << std::endl;
      }
      auto result = pipeline::Run(ro);
      if (!result.ok()) return Fail(result.status());
      std::cout << "ringo: run " << result->run_id << " " << result->status << std::endl;
      // One line per step, in the order they ran: "  NAME: RESULT (run ID[, reusing ID])".
      for (const pipeline::StepResult& step : result->steps) {
        std::cout << "  " << step.name << ": " << step.result;
        if (!step.run_id.empty()) {
          std::cout << " (run " << step.run_id;
          if (!step.reused_run_id.empty()) std::cout << ", reusing " << step.reused_run_id;
          std::cout << ")";
        }
        std::cout << std::endl;
      }
      if (embedded) {
        std::cout << "ringo: see the runs with: ringo server --store " << run_store << std::endl;
      }
      return result->status == "FINISHED" ? 0 : 1;
    }
    if (convert_cmd->parsed()) return RunConvert(cf);
    if (predict->parsed()) return RunPredict(model_path, predict_inputs, predict_json);
    if (diff->parsed()) return RunDiff(model_path, other_path, diff_json);
    if (server->parsed()) {
      Status s = RunServer(sf);
      return s.ok() ? 0 : Fail(s);
    }

    auto with_client = [&](auto fn) -> int {
      auto c = Connect(common);
      if (!c.ok()) return Fail(c.status());
      Status s = fn(**c);
      return s.ok() ? 0 : Fail(s);
    };

    if (experiments->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        if (exp_list->parsed()) {
          ASSIGN_OR_RETURN(Json j, c.Post("/api/2.0/mlflow/experiments/search",
                                          Json{{"max_results", 50000},
                                               {"view_type", exp_all ? "ALL" : "ACTIVE_ONLY"}}));
          if (common.json) {
            std::cout << j.dump(2) << "\n";
          } else {
            for (const Json& e : j.value("experiments", Json::array())) {
              std::cout << e.value("experiment_id", "") << "  " << e.value("name", "") << "  "
                        << e.value("lifecycle_stage", "") << "  "
                        << e.value("artifact_location", "") << "\n";
            }
          }
        } else if (exp_create->parsed()) {
          ASSIGN_OR_RETURN(std::string id, c.CreateExperiment(exp_name));
          std::cout << id << "\n";
        } else if (exp_get->parsed()) {
          ASSIGN_OR_RETURN(Json j,
                           c.Get("/api/2.0/mlflow/experiments/get", {{"experiment_id", exp_id}}));
          std::cout << j["experiment"].dump(2) << "\n";
        } else if (exp_rename->parsed()) {
          ASSIGN_OR_RETURN(Json j,
                           c.Post("/api/2.0/mlflow/experiments/update",
                                  Json{{"experiment_id", exp_id}, {"new_name", exp_new_name}}));
        } else {
          const char* path = exp_delete->parsed() ? "/api/2.0/mlflow/experiments/delete"
                                                  : "/api/2.0/mlflow/experiments/restore";
          ASSIGN_OR_RETURN(Json j, c.Post(path, Json{{"experiment_id", exp_id}}));
        }
        return Status::Ok();
      });
    }

    if (runs->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        if (runs_show->parsed()) {
          ASSIGN_OR_RETURN(Json run, c.GetRun(run_id));
          if (common.json) {
            std::cout << run.dump(2) << "\n";
          } else {
            PrintRun(run);
          }
          return Status::Ok();
        }
        // runs/search answers an unknown experiment with no runs, as MLflow's does; a person
        // asking for one experiment's runs wants to hear that it does not exist.
        auto exp = c.Get("/api/2.0/mlflow/experiments/get", {{"experiment_id", runs_exp}});
        if (!exp.ok()) {
          if (exp.status().code() == Code::kNotFound)
            return NotFound("experiment '" + runs_exp + "' not found");
          return exp.status();
        }
        Json body{{"experiment_ids", Json::array({runs_exp})}, {"max_results", max_results}};
        if (!filter.empty()) body["filter"] = filter;
        if (!order_by.empty()) body["order_by"] = order_by;
        ASSIGN_OR_RETURN(Json j, c.Post("/api/2.0/mlflow/runs/search", body));
        if (common.json) {
          std::cout << j.dump(2) << "\n";
        } else {
          for (const Json& r : j.value("runs", Json::array())) PrintRunRow(r);
        }
        return Status::Ok();
      });
    }

    if (models->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        std::string source = reg_path;
        std::error_code ec;
        bool local =
            reg_path.rfind("runs:/", 0) != 0 && reg_path.rfind("mlflow-artifacts:", 0) != 0;
        if (local) {
          if (!std::filesystem::exists(reg_path, ec)) {
            return InvalidArgument("'" + reg_path + "' does not exist");
          }
          std::string run_id = reg_run;
          if (run_id.empty()) {
            ASSIGN_OR_RETURN(
                Json r, c.Post("/api/2.0/mlflow/runs/create",
                               Json{{"experiment_id", "0"},
                                    {"start_time", NowMillis()},
                                    {"run_name", "register " + reg_name},
                                    {"tags", Json::array({Json{{"key", "ringo.registeredModel"},
                                                               {"value", reg_name}}})}}));
            run_id = r["run"]["info"].value("run_id", "");
          }
          std::filesystem::path p = std::filesystem::absolute(reg_path).lexically_normal();
          if (p.filename().empty()) p = p.parent_path();
          // A file lands at model/<name>; a directory (an .mlpackage) at model/<name>/...
          RETURN_IF_ERROR(c.LogArtifact(
              run_id, p,
              std::filesystem::is_directory(p) ? "model/" + p.filename().string() : "model"));
          if (reg_run.empty()) {
            (void)c.Post(
                "/api/2.0/mlflow/runs/update",
                Json{{"run_id", run_id}, {"status", "FINISHED"}, {"end_time", NowMillis()}});
          }
          ASSIGN_OR_RETURN(Json run, c.GetRun(run_id));
          source = run["info"].value("artifact_uri", "") + "/model/" + p.filename().string();
          reg_run = run_id;
        }
        auto created = c.Post("/api/2.0/mlflow/registered-models/create", Json{{"name", reg_name}});
        if (!created.ok() && created.status().code() != Code::kAlreadyExists)
          return created.status();
        Json body{{"name", reg_name}, {"source", source}};
        if (!reg_run.empty()) body["run_id"] = reg_run;
        ASSIGN_OR_RETURN(Json v, c.Post("/api/2.0/mlflow/model-versions/create", body));
        std::string version = v["model_version"].value("version", "");
        auto card = c.Get("/api/ringo/v1/model-versions/coreml",
                          {{"name", reg_name}, {"version", version}});
        if (common.json) {
          std::cout << v.dump(2) << "\n";
        } else {
          std::cout << reg_name << " version " << version << "\n";
          if (card.ok()) {
            const Json& cm = (*card)["coreml"];
            // A file's digest is its sha256; a package directory's is a tree hash, named so.
            bool tree = (*card).contains("tree_sha256");
            std::cout << "  Core ML " << cm.value("model_type", "") << ", spec "
                      << cm.value("specification_version", 0) << " (iOS "
                      << cm.value("minimum_ios", "") << "+), " << cm.value("weight_precision", "")
                      << ", " << (*card).value("size", int64_t{0}) << " bytes, "
                      << (tree ? "tree_sha256 " : "sha256 ")
                      << (*card).value(tree ? "tree_sha256" : "sha256", "") << "\n";
          }
        }
        // Like MLflow, the registry takes any source; but one that is not a Core ML model can
        // be neither inspected nor deployed, which a user of this verb should hear about.
        if (!card.ok() && card.status().code() == Code::kNotFound) {
          std::cerr << "ringo: warning: " << reg_name << " version " << version
                    << " is registered, but '" << reg_path << "' "
                    << (local ? "is not a Core ML model (.mlmodel or .mlpackage)"
                              : "holds no Core ML model ringo can read")
                    << "; it cannot be inspected or deployed\n";
        }
        return Status::Ok();
      });
    }

    if (simulate->parsed()) return RunSimulate(sim);

    if (tokens->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/tokens",
                                          Json{{"scope", token_scope}, {"name", token_name}}));
        std::cout << out.value("token", "") << "\n";
        return Status::Ok();
      });
    }

    if (collections->parsed() || deployments->parsed() || channels->parsed() ||
        apps->parsed() || webhooks->parsed() || deploy_cmd->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        const char* user = std::getenv("USER");
        std::string actor = user ? user : "cli";
        Json out;
        if (coll_create->parsed()) {
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/collections",
                                       Json{{"name", dep_collection}, {"models", dep_models}}));
          if (!common.json) std::cout << "collection " << dep_collection << "\n";
        } else if (coll_list->parsed()) {
          ASSIGN_OR_RETURN(out, c.Get("/api/ringo/v1/collections", {}));
          if (!common.json) {
            for (const Json& col : out.value("collections", Json::array())) {
              std::cout << col.value("name", "") << "  models:";
              for (const Json& m : col.value("models", Json::array()))
                std::cout << " " << m.get<std::string>();
              std::cout << "\n";
              for (const Json& ch : col.value("channels", Json::array())) {
                std::cout << "  " << ch.value("name", "") << " -> " << ch.value("deployment_id", "")
                          << " (" << ch.value("rollout", 100) << "%)\n";
              }
            }
          }
        } else if (dep_create->parsed()) {
          Json models = Json::object();
          for (const std::string& m : dep_models) {
            size_t eq = m.find('=');
            if (eq == std::string::npos || eq == 0)
              return InvalidArgument("--model expects NAME=VERSION; got '" + m + "'");
            models[m.substr(0, eq)] = m.substr(eq + 1);
          }
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/deployments",
                                       Json{{"collection", dep_collection}, {"models", models}}));
          if (!common.json) std::cout << out["deployment"].value("id", "") << "\n";
        } else if (ch_promote->parsed()) {
          Json body{{"collection", dep_collection},
                    {"channel", dep_channel},
                    {"deployment_id", dep_id},
                    {"rollout", dep_rollout},
                    {"reason", dep_reason},
                    {"force", dep_force},
                    {"actor", actor}};
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/channels/promote", body));
        } else if (ch_rollout->parsed()) {
          ASSIGN_OR_RETURN(
              out, c.Post("/api/ringo/v1/channels/rollout", Json{{"collection", dep_collection},
                                                                 {"channel", dep_channel},
                                                                 {"rollout", dep_rollout},
                                                                 {"reason", dep_reason},
                                                                 {"actor", actor}}));
        } else if (ch_rollback->parsed()) {
          ASSIGN_OR_RETURN(
              out, c.Post("/api/ringo/v1/channels/rollback", Json{{"collection", dep_collection},
                                                                  {"channel", dep_channel},
                                                                  {"reason", dep_reason},
                                                                  {"actor", actor}}));
        } else if (ch_history->parsed()) {
          ASSIGN_OR_RETURN(out, c.Get("/api/ringo/v1/channels/history",
                                      {{"collection", dep_collection}, {"channel", dep_channel}}));
          if (!common.json) {
            for (const Json& h : out.value("history", Json::array())) {
              std::cout << FormatTime(h.value("time", int64_t{0})) << "  " << h.value("action", "")
                        << "  " << (h.value("from", "").empty() ? "-" : h.value("from", ""))
                        << " -> " << h.value("to", "") << "  " << h.value("rollout", 100)
                        << "%  by " << h.value("actor", "")
                        << (h.value("reason", "").empty() ? ""
                                                          : "  (" + h.value("reason", "") + ")")
                        << (h.value("forced", false) ? "  FORCED" : "") << "\n";
              if (h.contains("rules")) PrintRules(h["rules"]);
              for (const Json& o : h.value("overridden", Json::array()))
                std::cout << "    overrode: " << o.get<std::string>() << "\n";
            }
          }
        } else if (ch_rules->parsed()) {
          if (rules_file.empty() && !rules_clear) {
            ASSIGN_OR_RETURN(out, c.Get("/api/ringo/v1/channels/get", {{"collection", dep_collection},
                                                                      {"channel", dep_channel}}));
            if (!common.json) {
              std::cout << dep_collection << "/" << dep_channel << " rules:\n";
              PrintRules(out["channel"].value("rules", Json::array()));
            }
            if (common.json) std::cout << out.dump(2) << "\n";
            return Status::Ok();
          }
          Json rules = Json::array();
          if (!rules_clear) {
            ASSIGN_OR_RETURN(std::string text, ReadTextFile(rules_file));
            rules = Json::parse(text, nullptr, false);
            if (rules.is_discarded()) return InvalidArgument("'" + rules_file + "' is not JSON");
            if (rules.is_object() && rules.contains("rules")) rules = rules["rules"];
          }
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/channels/rules",
                                       Json{{"collection", dep_collection},
                                            {"channel", dep_channel},
                                            {"rules", rules},
                                            {"reason", dep_reason},
                                            {"force", dep_force},
                                            {"actor", actor}}));
          if (!common.json) PrintRules(out["channel"].value("rules", Json::array()));
        } else if (apps_contract->parsed()) {
          Json models = Json::object();
          for (const std::string& m : dep_models) {
            size_t eq = m.find('=');
            if (eq == std::string::npos || eq == 0)
              return InvalidArgument("--model expects NAME=PATH; got '" + m + "'");
            ASSIGN_OR_RETURN(models[m.substr(0, eq)], InterfaceOf(m.substr(eq + 1)));
          }
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/apps/contracts",
                                       Json{{"collection", dep_collection},
                                            {"app_versions", app_versions},
                                            {"models", models},
                                            {"actor", actor}}));
          if (!common.json) {
            std::cout << dep_collection << ": apps " << out["contract"].value("app_versions", "")
                      << " built against " << models.size() << " model interface(s)\n";
          }
        } else if (apps_list->parsed()) {
          ASSIGN_OR_RETURN(out, c.Get("/api/ringo/v1/apps/contracts",
                                      {{"collection", dep_collection}}));
          if (!common.json) {
            for (const Json& k : out.value("contracts", Json::array())) {
              std::cout << k.value("app_versions", "") << "  models:";
              for (auto& [name, iface] : k["models"].items()) std::cout << " " << name;
              std::cout << "  (" << FormatTime(k.value("creation_time", int64_t{0})) << " by "
                        << k.value("actor", "") << ")\n";
            }
          }
        } else if (apps_remove->parsed()) {
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/apps/contracts/delete",
                                       Json{{"collection", dep_collection},
                                            {"app_versions", app_versions}}));
        } else if (hooks_add->parsed()) {
          Json body{{"url", hook_url}, {"collection", dep_collection}};
          if (!hook_secret.empty()) body["secret"] = hook_secret;
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/webhooks", body));
          if (!common.json) std::cout << out["webhook"].value("id", "") << "\n";
        } else if (hooks_list->parsed()) {
          ASSIGN_OR_RETURN(out, c.Get("/api/ringo/v1/webhooks", {{"collection", dep_collection}}));
          if (!common.json) {
            for (const Json& w : out.value("webhooks", Json::array())) {
              std::string scope = w.value("collection", "");
              std::cout << w.value("id", "") << "  " << w.value("url", "") << "  "
                        << (scope.empty() ? "(all collections)" : scope)
                        << (w.value("has_secret", false) ? "  signed" : "") << "\n";
            }
          }
        } else if (hooks_remove->parsed()) {
          ASSIGN_OR_RETURN(out, c.Post("/api/ringo/v1/webhooks/delete", Json{{"id", hook_id}}));
        } else if (deploy_keys->parsed()) {
          ASSIGN_OR_RETURN(out, c.Get("/api/deploy/v1/keys", {}));
          if (!common.json)
            std::cout << out.value("algorithm", "") << " " << out.value("public_key", "") << "\n";
        }
        if (out.contains("channel") && !common.json) {
          const Json& ch = out["channel"];
          std::cout << dep_collection << "/" << ch.value("name", "") << " -> "
                    << ch.value("deployment_id", "") << " (" << ch.value("rollout", 100) << "%"
                    << (ch.contains("previous_deployment_id")
                            ? ", others on " + ch.value("previous_deployment_id", "")
                            : "")
                    << ")\n";
        }
        if (common.json) std::cout << out.dump(2) << "\n";
        return Status::Ok();
      });
    }

    if (log->parsed()) {
      return with_client([&](client::Client& c) -> Status {
        ASSIGN_OR_RETURN(std::string id, RunIdFromEnv(log_run));
        if (log_param->parsed()) return c.LogParam(id, key, value);
        if (log_metric->parsed()) {
          auto v = ParseDouble(value);
          if (!v) return InvalidArgument("metric value '" + value + "' is not a number");
          return c.LogMetric(id, key, *v, timestamp ? timestamp : NowMillis(), step);
        }
        return c.LogArtifact(id, local_path, artifact_path);
      });
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ringo: error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace ringo::cli
