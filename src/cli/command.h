// What the subcommand files share: the context, one registration function per noun, and the
// helpers for talking to a server and reporting failures (private to cli/).
#ifndef RINGO_CLI_COMMAND_H_
#define RINGO_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "client/client.h"
#include "common/status.h"

namespace ringo::cli {

inline constexpr const char* kVersion = "0.1.0";

// Shared by every subcommand: the server flags of the commands that talk to one, and the exit
// code the chosen command leaves.
struct Context {
  std::string tracking_uri;
  bool json = false;
  int exit_code = 0;
};

// Each adds its noun (and verbs) to `app`; the chosen verb runs from its CLI11 callback once
// parsing is done and stores its exit code in `ctx`. One file each.
void AddServerCommand(CLI::App& app, Context& ctx);       // server_command.cc
void AddExperimentsCommand(CLI::App& app, Context& ctx);  // experiments_command.cc
void AddRunsCommand(CLI::App& app, Context& ctx);         // runs_command.cc
void AddLogCommand(CLI::App& app, Context& ctx);          // log_command.cc
void AddRunCommand(CLI::App& app, Context& ctx);          // run_command.cc
void AddStepCommand(CLI::App& app, Context& ctx);         // step_command.cc
void AddModelsCommand(CLI::App& app, Context& ctx);       // models_command.cc
void AddTokensCommand(CLI::App& app, Context& ctx);       // tokens_command.cc
void AddAuditCommand(CLI::App& app, Context& ctx);        // audit_command.cc
void AddUsersCommand(CLI::App& app, Context& ctx);        // users_command.cc
void AddCollectionsCommand(CLI::App& app, Context& ctx);  // collections_command.cc
void AddDeploymentsCommand(CLI::App& app, Context& ctx);  // deployments_command.cc
void AddChannelsCommand(CLI::App& app, Context& ctx);     // channels_command.cc
void AddAppsCommand(CLI::App& app, Context& ctx);         // apps_command.cc
void AddWebhooksCommand(CLI::App& app, Context& ctx);     // webhooks_command.cc
void AddSchedulesCommand(CLI::App& app, Context& ctx);    // schedules_command.cc
void AddReleaseCommand(CLI::App& app, Context& ctx);      // release_command.cc
void AddStoreCommand(CLI::App& app, Context& ctx);        // store_command.cc
void AddStoreCopyCommand(CLI::App* store, Context& ctx);  // store_copy_command.cc
void AddDeviceCommands(CLI::App& app, Context& ctx);      // device_command.cc: device, deploy
void AddCoreMLCommands(CLI::App& app, Context& ctx);      // coreml_commands.cc

// --tracking-uri, --ca-cert (AddCaCertFlag) and --json, bound to `ctx`.
void AddServerFlags(CLI::App* cmd, Context* ctx);
// --ca-cert FILE: a PEM CA bundle https servers are verified against besides the system's. It
// sets MLFLOW_TRACKING_SERVER_CERT_PATH, so every client of this process and every step or
// process it starts (MLflow's Python client included) trusts the same CAs.
void AddCaCertFlag(CLI::App* cmd);
// Makes `action` the work of `cmd`: run after parsing, its result the exit code.
void OnRun(CLI::App* cmd, Context* ctx, std::function<int()> action);
// Connects to the context's server (flag, then $MLFLOW_TRACKING_URI, $RINGO_TRACKING_URI, then
// http://127.0.0.1:5000) and runs `fn`: exit 0, or Fail's 1.
int WithClient(const Context& ctx, const std::function<Status(client::Client&)>& fn);

// Reports a failed Status on stderr ("ringo: error: ...") and returns exit code 1 (CLI11 uses
// 2 for usage errors).
int Fail(const Status& s);
// MLflow's variable first, then ringo's twin, then `fallback`.
std::string EnvOr(const char* a, const char* b, std::string fallback);
// "YYYY-MM-DD HH:MM:SS" (UTC), "-" for 0.
std::string FormatTime(int64_t ms);
// The whole file; kNotFound when it cannot be read.
Result<std::string> ReadTextFile(const std::string& path);
// A channel's deployment by what it holds: "DigitClassifier v2 [dep-...]" (the id alone when
// the server gives no label).
std::string DeploymentName(const client::Json& channel, const char* id_key, const char* label_key);
// The channel line printed after promote, rollout, rollback and rules.
void PrintChannel(const std::string& collection, const client::Json& channel);

}  // namespace ringo::cli

#endif  // RINGO_CLI_COMMAND_H_
