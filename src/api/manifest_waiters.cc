// Long-polled manifest requests: the waiters and their timer thread; the manifest answer.
#include "api/manifest_waiters.h"

#include <array>
#include <iostream>

#include "api/api.h"

namespace ringo::api {

namespace {

// The header lines of a manifest's answers, formatted once per manifest: a fleet's polls are
// the same few manifests over and over. Each I/O thread remembers the last few it formatted.
std::shared_ptr<const std::string> HeaderLines(const std::shared_ptr<const deploy::Manifest>& m) {
  struct Entry {
    std::weak_ptr<const deploy::Manifest> manifest;
    std::shared_ptr<const std::string> lines;
  };
  thread_local std::array<Entry, 8> recent;
  thread_local size_t next = 0;
  for (const Entry& e : recent) {
    if (!e.manifest.owner_before(m) && !m.owner_before(e.manifest) && !e.manifest.expired()) {
      return e.lines;
    }
  }
  std::string lines = "ETag: " + m->etag + "\r\nCache-Control: no-cache\r\n";
  lines += "X-Ringo-Signature: ed25519=" + m->signature + "\r\n";
  // During a key rotation: the same body signed by the key apps are moving to.
  if (!m->next_signature.empty()) {
    lines += "X-Ringo-Signature-Next: ed25519=" + m->next_signature + "\r\n";
  }
  Entry& e = recent[next++ % recent.size()];
  e.manifest = m;
  e.lines = std::make_shared<const std::string>(std::move(lines));
  return e.lines;
}

}  // namespace

http::Response ManifestResponse(const std::shared_ptr<const deploy::Manifest>& m,
                                std::string_view if_none_match) {
  http::Response r;
  r.header_lines = HeaderLines(m);
  // The device already has this manifest.
  if (!if_none_match.empty() && (if_none_match == m->etag || if_none_match == "*")) {
    r.status = 304;
    r.content_type = {};
    return r;
  }
  r.body = m->body;
  return r;
}

namespace {

http::Response NotModified(const std::string& etag) {
  http::Response r;
  r.status = 304;
  r.content_type = {};
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace

ManifestWaiters::ManifestWaiters(deploy::Service* service) : service_(service) {
  thread_ = std::thread([this] { Loop(); });
}

ManifestWaiters::~ManifestWaiters() { Shutdown(); }

uint64_t ManifestWaiters::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

size_t ManifestWaiters::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

void ManifestWaiters::Add(http::Responder responder, std::string collection, std::string channel,
                          deploy::DeviceQuery device, std::string etag,
                          std::chrono::steady_clock::time_point deadline, uint64_t generation) {
  std::unique_lock lock(mu_);
  if (stop_) {
    lock.unlock();
    responder.Send(NotModified(etag));
    return;
  }
  std::string key = collection + "/" + channel;
  waiters_[key].push_back(Waiter{std::move(responder), std::move(collection), std::move(channel),
                                 std::move(device), std::move(etag), deadline});
  ++count_;
  if (generation != generation_) {
    dirty_[key] = true;
    cv_.notify_one();
  }
}

void ManifestWaiters::OnChange(const std::string& collection, const std::string& channel) {
  {
    std::lock_guard lock(mu_);
    ++generation_;
    std::string key = collection + "/" + channel;
    if (waiters_.count(key)) dirty_[key] = true;
  }
  cv_.notify_one();
}

size_t ManifestWaiters::Shutdown() {
  std::unordered_map<std::string, std::list<Waiter>> left;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    left.swap(waiters_);
    count_ = 0;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  // Nothing changed for them before the server went away: "poll again".
  size_t answered = 0;
  for (auto& [key, list] : left) {
    for (Waiter& w : list) {
      w.responder.Send(NotModified(w.etag));
      ++answered;
    }
  }
  return answered;
}

void ManifestWaiters::Loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_ || !dirty_.empty(); });
    if (stop_) break;
    auto now = Clock::now();
    std::vector<Waiter> expired, recheck;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      bool dirty = dirty_.count(it->first) > 0;
      for (auto w = it->second.begin(); w != it->second.end();) {
        // A device that went away is answered now, into nothing: its connection is let go
        // rather than kept until the wait ends.
        if (w->deadline <= now || w->responder.Gone()) {
          expired.push_back(std::move(*w));
        } else if (dirty) {
          recheck.push_back(std::move(*w));
        } else {
          ++w;
          continue;
        }
        w = it->second.erase(w);
        --count_;
      }
      it = it->second.empty() ? waiters_.erase(it) : std::next(it);
    }
    dirty_.clear();
    uint64_t seen = generation_;
    lock.unlock();
    for (Waiter& w : expired) w.responder.Send(NotModified(w.etag));
    std::vector<Waiter> keep;
    for (Waiter& w : recheck) {
      try {
        auto m = service_->ManifestFor(w.collection, w.channel, w.device);
        if (!m.ok()) {
          w.responder.Send(HttpError(m.status()));
        } else if ((*m)->etag != w.etag) {
          w.responder.Send(ManifestResponse(*m, w.etag));
        } else {
          keep.push_back(std::move(w));
        }
      } catch (const std::exception& e) {
        // This thread's safety net: a failing re-check answers its request and nothing else.
        std::cerr << "ringo: long-poll re-check failed: " << e.what() << std::endl;
        w.responder.Send(HttpError(Internal(e.what())));
      }
    }
    lock.lock();
    for (Waiter& w : keep) {
      std::string key = w.collection + "/" + w.channel;
      // A change during the re-check: look again on the next round.
      if (generation_ != seen) dirty_[key] = true;
      waiters_[key].push_back(std::move(w));
      ++count_;
    }
  }
}

std::shared_ptr<ManifestWaiters> StartManifestWaiters(deploy::Service* service) {
  auto waiters = std::make_shared<ManifestWaiters>(service);
  // Holds the waiters weakly: they belong to the API, which shuts them down before the Service.
  std::weak_ptr<ManifestWaiters> weak = waiters;
  service->AddChangeListener([weak](const deploy::Channel& c, const deploy::HistoryEntry&) {
    if (auto w = weak.lock()) w->OnChange(c.collection, c.name);
  });
  // Changes made by other servers sharing the store wake waiters too (within ~0.5 s).
  service->AddChannelWatcher([weak](const std::string& collection, const std::string& channel) {
    if (auto w = weak.lock()) w->OnChange(collection, channel);
  });
  return waiters;
}

}  // namespace ringo::api
