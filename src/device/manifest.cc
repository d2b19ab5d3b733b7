// Reading a deployment manifest the server signed: its models, versions, hashes and URLs.
#include <string>

#include <nlohmann/json.hpp>

#include "device/client_impl.h"

namespace ringo::device {

using nlohmann::json;

Error ParseManifest(const std::string& body, const std::string& collection,
                    const std::string& channel, Manifest* out) {
  json j = json::parse(body, nullptr, false);
  auto bad = [](const std::string& why) { return Err(RINGO_ERR_MANIFEST, "manifest: " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  auto str = [&](const json& o, const char* k, std::string* v) {
    auto it = o.find(k);
    if (it == o.end() || !it->is_string()) return false;
    *v = it->get<std::string>();
    return true;
  };
  std::string c, ch;
  if (!str(j, "collection", &c) || !str(j, "channel", &ch) ||
      !str(j, "deployment_id", &out->deployment_id)) {
    return bad("missing collection, channel or deployment_id");
  }
  if (c != collection || ch != channel) {
    return bad("is for " + c + "/" + ch + ", not " + collection + "/" + channel);
  }
  if (!SafeName(out->deployment_id) || out->deployment_id.size() >= 64) {
    return bad("bad deployment id '" + out->deployment_id + "'");
  }
  const std::pair<const char*, int64_t*> times[] = {{"sequence", &out->sequence},
                                                    {"issued_at", &out->issued_at},
                                                    {"expires_at", &out->expires_at}};
  for (const auto& [key, field] : times) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
      return bad(std::string("missing or bad '") + key + "'");
    }
    *field = it->get<int64_t>();
  }
  auto models = j.find("models");
  if (models == j.end() || !models->is_array()) return bad("'models' is not an array");
  for (const json& m : *models) {
    ModelEntry e;
    if (!m.is_object() || !str(m, "name", &e.name) || !str(m, "version", &e.version) ||
        !str(m, "sha256", &e.sha256) || !str(m, "format", &e.format) || !str(m, "url", &e.url)) {
      return bad("a model lacks name, version, sha256, format or url");
    }
    auto size = m.find("size");
    if (size == m.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
      return bad("model '" + e.name + "' has no valid size");
    }
    e.size = size->get<int64_t>();
    if (!SafeName(e.name)) return bad("unsafe model name '" + e.name + "'");
    if (!IsSha256Hex(e.sha256)) return bad("model '" + e.name + "' has a bad sha256");
    if (e.format != "mlmodel" && e.format != "mlpackage.tar") {
      return bad("model '" + e.name + "' has unknown format '" + e.format + "'");
    }
    if (e.url.empty() || (e.url[0] != '/' && e.url.rfind("http://", 0) != 0 &&
                          e.url.rfind("https://", 0) != 0)) {
      return bad("model '" + e.name + "' has a bad url");
    }
    for (const ModelEntry& o : out->models) {
      if (o.name == e.name) return bad("model '" + e.name + "' listed twice");
    }
    out->models.push_back(std::move(e));
  }
  return {};
}

Error CheckFresh(const Manifest& m, const State& s, const std::string& channel_key,
                 int64_t now_ms) {
  if (s.manifest_channel == channel_key && m.sequence < s.manifest_sequence) {
    return Err(RINGO_ERR_MANIFEST,
               "manifest: sequence " + std::to_string(m.sequence) + " is older than " +
                   std::to_string(s.manifest_sequence) + ", already accepted (a replay?)");
  }
  if (m.expires_at <= now_ms) {
    return Err(RINGO_ERR_MANIFEST, "manifest: expired " +
                                       std::to_string((now_ms - m.expires_at) / 1000) +
                                       " s ago (a replay, or this device's clock is wrong)");
  }
  return {};
}

bool ParsePublicKeys(const std::string& text, std::vector<std::string>* keys) {
  keys->clear();
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(", \t\n", i);
    if (end == std::string::npos) end = text.size();
    if (end > i) {
      std::string raw;
      if (!Base64Decode(text.substr(i, end - i), &raw) || raw.size() != 32) return false;
      keys->push_back(std::move(raw));
    }
    i = end + 1;
  }
  return !keys->empty() && keys->size() <= 8;
}

}  // namespace ringo::device
