// Helpers shared by the subcommands: server flags, running a verb, connecting, failing.
#include "cli/command.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

namespace ringo::cli {

void AddServerFlags(CLI::App* cmd, Context* ctx) {
  cmd->add_option("--tracking-uri", ctx->tracking_uri,
                  "Server URL (default: $MLFLOW_TRACKING_URI, $RINGO_TRACKING_URI, "
                  "http://127.0.0.1:5000)");
  AddCaCertFlag(cmd);
  cmd->add_flag("--json", ctx->json, "Print JSON");
}

void AddCaCertFlag(CLI::App* cmd) {
  auto set = [](const std::string& file) {
    setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", file.c_str(), 1);
  };
  cmd->add_option_function<std::string>(
         "--ca-cert", set,
         "PEM CA bundle an https server is verified against besides the system's (default: "
         "$MLFLOW_TRACKING_SERVER_CERT_PATH; MLFLOW_TRACKING_INSECURE_TLS=true skips "
         "verification)")
      ->check(CLI::ExistingFile);
}

void OnRun(CLI::App* cmd, Context* ctx, std::function<int()> action) {
  cmd->callback([ctx, action = std::move(action)] { ctx->exit_code = action(); });
}

int WithClient(const Context& ctx, const std::function<Status(client::Client&)>& fn) {
  std::string uri = ctx.tracking_uri.empty()
                        ? EnvOr("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "http://127.0.0.1:5000")
                        : ctx.tracking_uri;
  auto c = client::Client::Connect(uri);
  if (!c.ok()) return Fail(c.status());
  Status s = fn(**c);
  return s.ok() ? 0 : Fail(s);
}

int Fail(const Status& s) {
  std::cerr << "ringo: error: " << s.message() << std::endl;
  return 1;
}

std::string EnvOr(const char* a, const char* b, std::string fallback) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (const char* v = std::getenv(b); v && *v) return v;
  return fallback;
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

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string DeploymentName(const client::Json& ch, const char* id_key, const char* label_key) {
  std::string id = ch.value(id_key, "");
  std::string label = ch.value(label_key, "");
  return label.empty() ? id : label + " [" + id + "]";
}

void PrintChannel(const std::string& collection, const client::Json& ch) {
  std::cout << collection << "/" << ch.value("name", "") << " -> "
            << DeploymentName(ch, "deployment_id", "deployment_label") << " ("
            << ch.value("rollout", 100) << "%"
            << (ch.contains("previous_deployment_id")
                    ? ", others on " +
                          DeploymentName(ch, "previous_deployment_id", "previous_deployment_label")
                    : "")
            << ")\n";
}

}  // namespace ringo::cli
