// `ringo device simulate`: simulated devices driven through the device SDK.
#include "cli/device_command.h"

#include <filesystem>
#include <iostream>
#include <map>

#include "cli/command.h"
#include "client/client.h"
#include "common/util.h"
#include "device/ringo_device.h"

namespace ringo::cli {

namespace fs = std::filesystem;

namespace {

struct Behaviour {
  double failure_rate = 0, latency_ms = 10, accuracy = 1;
};

// --behave DEPLOYMENT=failure_rate:F,latency_ms:L,accuracy:A, by deployment ("*": the rest).
Result<std::map<std::string, Behaviour>> ParseBehaviours(const std::vector<std::string>& specs) {
  std::map<std::string, Behaviour> out;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("--behave expects DEPLOYMENT=key:value,...; got '" + spec + "'");
    }
    Behaviour b;
    std::string rest = spec.substr(eq + 1);
    for (size_t pos = 0; pos < rest.size();) {
      size_t comma = rest.find(',', pos);
      std::string item = rest.substr(pos, comma == std::string::npos ? comma : comma - pos);
      size_t colon = item.find(':');
      std::optional<double> parsed;
      if (colon != std::string::npos) parsed = ParseDouble(item.substr(colon + 1));
      double value = parsed.value_or(-1);
      std::string key = item.substr(0, colon);
      if (value < 0 || (key != "latency_ms" && value > 1)) {
        return InvalidArgument("bad --behave item '" + item + "' (failure_rate:0..1, "
                               "latency_ms:>=0, accuracy:0..1)");
      }
      if (key == "failure_rate") b.failure_rate = value;
      else if (key == "latency_ms") b.latency_ms = value;
      else if (key == "accuracy") b.accuracy = value;
      else return InvalidArgument("unknown --behave key '" + key + "'");
      pos = comma == std::string::npos ? rest.size() : comma + 1;
    }
    out[spec.substr(0, eq)] = b;
  }
  return out;
}

// A uniform number in [0, 1) fixed by the device and the draw.
double Draw(const std::string& device, int n, int salt) {
  uint64_t h = std::hash<std::string>{}(device + "/" + std::to_string(n) + "/" + std::to_string(salt));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) / 9007199254740992.0;
}

// One device's load, predictions and feedback, queued and sent through the SDK.
int ReportUse(ringo_client* dev, const std::string& id, const std::string& model, int predictions,
              const Behaviour& b) {
  ringo_event load{RINGO_EVENT_LOADED, model.c_str(), nullptr, -1, nullptr, nullptr, 0};
  int rc = ringo_record_event(dev, &load);
  for (int i = 0; i < predictions && rc == RINGO_OK; ++i) {
    bool failed = Draw(id, i, 1) < b.failure_rate;
    double latency = b.latency_ms * (0.8 + 0.4 * Draw(id, i, 2));
    ringo_event e{RINGO_EVENT_PREDICTION, model.c_str(), nullptr, failed ? -1 : latency, nullptr,
                  failed ? "prediction failed" : nullptr, 0};
    rc = ringo_record_event(dev, &e);
    if (failed || rc != RINGO_OK) continue;
    ringo_event fb{RINGO_EVENT_FEEDBACK, model.c_str(), nullptr, -1, nullptr, nullptr,
                   Draw(id, i, 3) < b.accuracy ? 1 : 0};
    rc = ringo_record_event(dev, &fb);
  }
  return rc == RINGO_OK ? ringo_flush_telemetry(dev, nullptr) : rc;
}

}  // namespace

int RunSimulate(const SimulateFlags& f) {
  auto fail = [](const std::string& m) {
    std::cerr << "ringo: error: " << m << std::endl;
    return 1;
  };
  if (f.count < 1 || f.count > 100000) return fail("--count must be between 1 and 100000");
  auto behaviours = ParseBehaviours(f.behave);
  if (!behaviours.ok()) return fail(behaviours.status().message());
  if (f.predictions < 0 || f.predictions > 10000) return fail("--predictions must be 0 to 10000");
  if (f.predictions > 0 && f.model.empty()) return fail("--predictions needs --model");
  std::map<std::string, std::string> attrs = {{"id_prefix", "sim-"}};
  for (const std::string& a : f.attrs) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--attr expects KEY=VALUE; got '" + a + "'");
    std::string key = a.substr(0, eq);
    static const char* kKeys[] = {"device_class", "os",       "os_version", "app_version",
                                  "region",       "language", "id_prefix"};
    bool known = false;
    for (const char* k : kKeys) known |= key == k;
    if (!known) return fail("unknown device attribute '" + key + "'");
    attrs[key] = a.substr(eq + 1);
  }
  // The key apps embed; the simulator fetches it the way a build step would.
  auto c = client::Client::Connect(f.tracking_uri);
  if (!c.ok()) return fail(c.status().message());
  auto keys = (*c)->Get("/api/deploy/v1/keys", {});
  if (!keys.ok()) return fail("cannot fetch the server's public key: " + keys.status().message());
  std::string public_key = (*keys).value("public_key", "");
  std::string base = f.tracking_uri;
  while (!base.empty() && base.back() == '/') base.pop_back();

  fs::path root = f.storage.empty() ? fs::temp_directory_path() / ("ringo-sim-" + NewId())
                                    : fs::path(f.storage);
  // The devices trust what the CLI's client does: the system's CAs and --ca-cert's.
  const char* ca_file = std::getenv("MLFLOW_TRACKING_SERVER_CERT_PATH");
  ringo_transport_posix_options tls{ca_file && *ca_file ? ca_file : nullptr, nullptr};
  std::error_code ec;
  fs::create_directories(root, ec);
  std::map<std::string, int> by_deployment;
  std::map<std::string, std::map<std::string, int>> by_version;  // model -> version -> devices
  std::string json = "[";
  int failures = 0;
  std::string first_error;
  auto get = [&](const char* k) -> const char* {
    auto it = attrs.find(k);
    return it == attrs.end() ? nullptr : it->second.c_str();
  };
  for (int i = 0; i < f.count; ++i) {
    std::string id = attrs["id_prefix"] + std::to_string(i);
    std::string dir = (root / id).string();
    ringo_config cfg{};
    cfg.base_url = base.c_str();
    cfg.token = f.token.empty() ? nullptr : f.token.c_str();
    cfg.collection = f.collection.c_str();
    cfg.channel = f.channel.c_str();
    cfg.device.id = id.c_str();
    cfg.device.device_class = get("device_class");
    cfg.device.os = get("os");
    cfg.device.os_version = get("os_version");
    cfg.device.app_version = get("app_version");
    cfg.device.region = get("region");
    cfg.device.language = get("language");
    cfg.storage_dir = dir.c_str();
    cfg.public_key = public_key.c_str();
    cfg.transport = ringo_transport_posix();
    cfg.transport_ctx = &tls;
    cfg.crypto = ringo_crypto_openssl();
    char err[512] = {};
    ringo_client* dev = ringo_client_create(&cfg, err, sizeof err);
    if (!dev) return fail(std::string("device ") + id + ": " + err);
    ringo_update_result r{};
    int status = ringo_check_for_update(dev, &r);
    std::string deployment = r.deployment_id;
    if (status != RINGO_OK && status != RINGO_NO_UPDATE) {
      ++failures;
      if (first_error.empty()) {
        first_error = std::string(ringo_status_name(status)) + ": " + ringo_last_error(dev);
        std::string why = ringo_transport_posix_last_error();
        if (status == RINGO_ERR_NETWORK && !why.empty()) first_error += " (" + why + ")";
      }
    }
    ++by_deployment[deployment.empty() ? "(none)" : deployment];
    if (f.predictions > 0 && !deployment.empty()) {
      auto b = behaviours->find(deployment);
      if (b == behaviours->end()) b = behaviours->find("*");
      int used = ReportUse(dev, id, f.model, f.predictions, b == behaviours->end() ? Behaviour{} : b->second);
      if (used != RINGO_OK) {
        ++failures;
        if (first_error.empty()) {
          first_error = std::string("telemetry: ") + ringo_status_name(used) + ": " + ringo_last_error(dev);
        }
      }
    }
    if (i) json += ",";
    json += "{\"device_id\":\"" + id + "\",\"deployment_id\":\"" + deployment + "\",\"status\":\"" +
            ringo_status_name(status) + "\"}";
    ringo_client_destroy(dev);
    if (f.storage.empty()) fs::remove_all(dir, ec);
  }
  json += "]";
  if (f.storage.empty()) fs::remove_all(root, ec);
  if (f.json) {
    std::cout << "{\"devices\":" << json << ",\"deployments\":{";
    bool first = true;
    for (const auto& [d, n] : by_deployment) {
      std::cout << (first ? "" : ",") << "\"" << d << "\":" << n;
      first = false;
    }
    std::cout << "},\"failures\":" << failures << "}\n";
    if (failures) {
      std::cerr << "ringo: " << failures << " devices failed (first: " << first_error << ")\n";
    }
  } else {
    std::cout << f.count << " devices on " << f.collection << "/" << f.channel << ":\n";
    for (const auto& [d, n] : by_deployment) {
      std::cout << "  " << d << ": " << n << " (" << (100.0 * n / f.count) << "%)\n";
    }
    if (failures) std::cout << "  failures: " << failures << " (first: " << first_error << ")\n";
  }
  return failures ? 1 : 0;
}

void AddDeviceCommands(CLI::App& app, Context& ctx) {
  auto sim = std::make_shared<SimulateFlags>();
  auto* device = app.add_subcommand("device", "Simulated devices (through the device SDK)");
  device->require_subcommand(1);
  auto* simulate = device->add_subcommand("simulate", "Drive N simulated devices; print what they hold");
  simulate->add_option("--tracking-uri", sim->tracking_uri, "Server URL")->required();
  AddCaCertFlag(simulate);
  simulate->add_option("--token", sim->token, "Device token (when the server has tokens)");
  simulate->add_option("--collection", sim->collection, "The collection devices fetch")->required();
  simulate->add_option("--channel", sim->channel, "The channel devices follow")->required();
  simulate->add_option("--count", sim->count, "Devices")->capture_default_str();
  simulate->add_option("--attr", sim->attrs,
                       "KEY=VALUE: device_class, os, os_version, app_version, region, language, "
                       "id_prefix (the first four also tag the devices' telemetry)");
  simulate->add_option("--storage", sim->storage,
                       "Keep the devices' storage here (default: temporary)");
  simulate->add_flag("--json", sim->json, "Print JSON");
  simulate->add_option("--model", sim->model, "The model whose use devices report");
  simulate->add_option("--predictions", sim->predictions,
                       "Predictions each device reports (with loads, failures, feedback)")
      ->capture_default_str();
  simulate->add_option("--behave", sim->behave,
                       "DEPLOYMENT=failure_rate:F,latency_ms:L,accuracy:A (repeatable; '*' for "
                       "the others)");
  OnRun(simulate, &ctx, [sim] { return RunSimulate(*sim); });

  auto* deploy = app.add_subcommand("deploy", "Delivery settings");
  deploy->require_subcommand(1);
  auto* keys = deploy->add_subcommand("keys", "Print the manifest signing public key(s)");
  AddServerFlags(keys, &ctx);
  Context* x = &ctx;
  auto print = [x](const client::Json& out) {
    if (x->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::cout << out.value("algorithm", "") << " " << out.value("public_key", "") << "\n";
    if (out.contains("next_public_key")) {
      std::cout << "next " << out.value("next_public_key", "")
                << "  (rotation under way: ship apps with both keys, then rotate --finish)\n";
    }
  };
  auto* rotate = keys->add_subcommand(
      "rotate", "Start a signing key rotation (a new key signs beside the current one) or, with "
                "--finish, end it (the new key alone signs)");
  AddServerFlags(rotate, &ctx);
  auto finish = std::make_shared<bool>(false);
  rotate->add_flag("--finish", *finish, "End the rotation under way; apps that know only the old "
                                       "key can no longer verify updates");
  OnRun(rotate, x, [x, print, finish] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(client::Json out,
                       c.Post("/api/ringo/v1/signing-keys/rotate", client::Json{{"finish", *finish}}));
      print(out);
      return Status::Ok();
    });
  });
  keys->callback([x, print, rotate] {
    if (rotate->parsed()) return;  // `keys rotate` ran instead
    x->exit_code = WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(client::Json out, c.Get("/api/deploy/v1/keys", {}));
      print(out);
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
