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

int RunSimulate(const SimulateFlags& f) {
  auto fail = [](const std::string& m) {
    std::cerr << "ringo: error: " << m << std::endl;
    return 1;
  };
  if (f.count < 1 || f.count > 100000) return fail("--count must be between 1 and 100000");
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
    cfg.crypto = ringo_crypto_openssl();
    char err[512] = {};
    ringo_client* dev = ringo_client_create(&cfg, err, sizeof err);
    if (!dev) return fail(std::string("device ") + id + ": " + err);
    ringo_update_result r{};
    int status = ringo_check_for_update(dev, &r);
    std::string deployment = r.deployment_id;
    if (status != RINGO_OK && status != RINGO_NO_UPDATE) {
      ++failures;
      if (first_error.empty())
        first_error = std::string(ringo_status_name(status)) + ": " + ringo_last_error(dev);
    }
    ++by_deployment[deployment.empty() ? "(none)" : deployment];
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
  simulate->add_option("--token", sim->token, "Device token (when the server has tokens)");
  simulate->add_option("--collection", sim->collection, "The collection devices fetch")->required();
  simulate->add_option("--channel", sim->channel, "The channel devices follow")->required();
  simulate->add_option("--count", sim->count, "Devices")->capture_default_str();
  simulate->add_option("--attr", sim->attrs,
                       "KEY=VALUE: device_class, os, os_version, app_version, region, language, "
                       "id_prefix");
  simulate->add_option("--storage", sim->storage,
                       "Keep the devices' storage here (default: temporary)");
  simulate->add_flag("--json", sim->json, "Print JSON");
  OnRun(simulate, &ctx, [sim] { return RunSimulate(*sim); });

  auto* deploy = app.add_subcommand("deploy", "Delivery settings");
  deploy->require_subcommand(1);
  auto* keys = deploy->add_subcommand("keys", "Print the manifest signing public key");
  AddServerFlags(keys, &ctx);
  Context* x = &ctx;
  OnRun(keys, x, [x] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(client::Json out, c.Get("/api/deploy/v1/keys", {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        std::cout << out.value("algorithm", "") << " " << out.value("public_key", "") << "\n";
      }
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
