// The device client's persisted state: the deployment pointer, installed deployments, cleanup.
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "device/client_impl.h"

namespace ringo::device {

namespace fs = std::filesystem;
using nlohmann::json;

Error Client::SaveState(const State& s) {
  json j = {{"deployment_id", s.current},
            {"previous_deployment_id", s.previous},
            {"etag", s.etag},
            {"bad", s.bad},
            {"manifest_channel", s.manifest_channel},
            {"manifest_sequence", s.manifest_sequence},
            {"manifest_expires_at", s.manifest_expires_at}};
  return WriteFileAtomic(Path("current"), j.dump() + "\n");
}

State Client::LoadStateFile(const std::string& path) {
  State s;
  std::string text;
  if (!ReadFile(path, &text)) return s;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return s;
  s.current = j.value("deployment_id", "");
  s.previous = j.value("previous_deployment_id", "");
  s.etag = j.value("etag", "");
  s.manifest_channel = j.value("manifest_channel", "");
  s.manifest_sequence = j.value("manifest_sequence", int64_t{0});
  s.manifest_expires_at = j.value("manifest_expires_at", int64_t{0});
  if (j.contains("bad") && j["bad"].is_array()) {
    for (const auto& b : j["bad"]) {
      if (b.is_string()) s.bad.push_back(b.get<std::string>());
    }
  }
  return s;
}

bool Client::LoadDeployment(const std::string& id,
                            std::map<std::string, InstalledModel>* out) const {
  if (id.empty() || !SafeName(id)) return false;
  std::string text;
  std::string d = DeploymentDir(id);
  if (!ReadFile(d + "/ringo.json", &text)) return false;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("deployment_id", "") != id || !j.contains("models") ||
      !j["models"].is_array()) {
    return false;
  }
  out->clear();
  for (const auto& m : j["models"]) {
    if (!m.is_object()) return false;
    std::string name = m.value("name", ""), rel = m.value("path", "");
    if (!SafeName(name) || rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) {
      return false;
    }
    std::error_code ec;
    if (!fs::exists(d + "/" + rel, ec)) return false;
    (*out)[name] = {m.value("version", ""), m.value("sha256", ""), d + "/" + rel};
  }
  return true;
}

void Client::CollectGarbage(const State& s, bool partial) {
  std::error_code ec;
  std::set<std::string> keep_blobs;
  for (const std::string& id : {s.current, s.previous}) {
    std::map<std::string, InstalledModel> ms;
    if (LoadDeployment(id, &ms)) {
      for (const auto& [name, m] : ms) keep_blobs.insert(m.sha256);
    }
  }
  for (const auto& entry : fs::directory_iterator(Path("deployments"), ec)) {
    std::string name = entry.path().filename().string();
    if (name != s.current && name != s.previous) fs::remove_all(entry.path(), ec);
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind("staging-", 0) == 0) fs::remove_all(entry.path(), ec);
  }
  for (const auto& entry : fs::directory_iterator(Path("blobs"), ec)) {
    std::string name = entry.path().filename().string();
    bool part = name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0;
    if (part ? partial : !keep_blobs.count(name)) fs::remove(entry.path(), ec);
  }
}

Error Client::Switch(const State& next, std::string* notify) {
  std::map<std::string, InstalledModel> ms;
  if (!next.current.empty() && !LoadDeployment(next.current, &ms)) {
    return Err(RINGO_ERR_IO, "deployment '" + next.current + "' is not intact on disk");
  }
  Error e = SaveState(next);
  if (!e.ok()) return e;
  {
    std::lock_guard<std::mutex> l(mu);
    if (state.current != next.current) *notify = next.current;
    state = next;
    models = std::move(ms);
  }
  CollectGarbage(next, true);
  return {};
}

}  // namespace ringo::device
