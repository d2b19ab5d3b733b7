// The device client's telemetry queue: events persisted as JSON lines, sent in batches.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "device/client_impl.h"

namespace ringo::device {

using nlohmann::json;

std::string Client::EventLine(ringo_event_kind kind, const std::string& model,
                              const std::string& version, double latency_ms,
                              const std::string& compute_unit, const std::string& error,
                              int correct) const {
  static const char* kNames[] = {"downloaded", "compiled", "loaded",
                                 "failed",     "prediction", "feedback"};
  json e = {{"event", kNames[kind]}, {"model", model}, {"version", version}};
  if (correct >= 0) e["correct"] = correct == 1;
  if (!device_class.empty()) e["device_class"] = device_class;
  // What the server breaks telemetry down by besides the class: an OS or app update that makes
  // a model fail shows as its own row.
  for (const auto& [key, value] : device) {
    if (key == "os" || key == "os_version" || key == "app_version") e[key] = value;
  }
  if (latency_ms >= 0) e["latency_ms"] = latency_ms;
  if (!compute_unit.empty()) e["compute_unit"] = compute_unit;
  if (!error.empty()) e["error"] = error;
  return e.dump();
}

Error Client::RewriteEventsLocked() {
  std::string data;
  for (const Event& e : events) data += e.line + "\n";
  return WriteFileAtomic(Path("telemetry.jsonl"), data);
}

Error Client::QueueEventLocked(std::string line) {
  events.push_back({next_seq++, line});
  if (events.size() > max_events) {
    while (events.size() > max_events) events.pop_front();
    return RewriteEventsLocked();
  }
  // Appending keeps recording cheap; a torn last line is skipped on load.
  int fd = ::open(Path("telemetry.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Err(RINGO_ERR_IO, "cannot open telemetry queue: " + std::string(std::strerror(errno)));
  line += "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Err(RINGO_ERR_IO, "cannot append to telemetry queue");
  return {};
}

void Client::LoadEvents() {
  std::string text;
  if (!ReadFile(Path("telemetry.jsonl"), &text)) return;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn tail
    std::string line = text.substr(start, end - start);
    start = end + 1;
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("event")) events.push_back({next_seq++, line});
  }
  while (events.size() > max_events) events.pop_front();
}

Error Client::Flush(size_t* sent) {
  for (;;) {
    std::vector<Event> batch;
    {
      std::lock_guard<std::mutex> l(mu);
      for (size_t i = 0; i < events.size() && i < batch_size; ++i) batch.push_back(events[i]);
    }
    if (batch.empty()) return {};
    std::string body = "[";
    for (size_t i = 0; i < batch.size(); ++i) body += (i ? "," : "") + batch[i].line;
    body += "]";
    Collected c;
    ringo_response resp{};
    resp.sink = &c;
    resp.on_header = CollectHeader;
    resp.on_body = CollectBody;
    std::vector<std::string> hs = Headers({"Content-Type: application/json"});
    std::vector<const char*> h;
    for (const auto& x : hs) h.push_back(x.c_str());
    h.push_back(nullptr);
    std::string url = base_url + "/api/deploy/v1/telemetry";
    if (transport->post(transport_ctx, url.c_str(), h.data(), body.data(), body.size(), &resp) != 0) {
      return Err(RINGO_ERR_NETWORK, "telemetry post failed");
    }
    bool drop = resp.status >= 400 && resp.status < 500 && resp.status != 408 && resp.status != 429;
    if (resp.status != 200 && !drop) {
      return Err(RINGO_ERR_NETWORK, "telemetry: HTTP " + std::to_string(resp.status));
    }
    Error e;
    {
      std::lock_guard<std::mutex> l(mu);
      uint64_t last = batch.back().seq;
      while (!events.empty() && events.front().seq <= last) events.pop_front();
      e = RewriteEventsLocked();
    }
    if (!e.ok()) return e;
    if (!drop && sent) *sent += batch.size();
  }
}

}  // namespace ringo::device
