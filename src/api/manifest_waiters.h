// Long-polled manifest requests, held until their channel changes (private to api/).
#ifndef RINGO_API_MANIFEST_WAITERS_H_
#define RINGO_API_MANIFEST_WAITERS_H_

#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "deploy/deploy.h"
#include "http/http.h"

namespace ringo::api {

// Long-polling manifest requests (wait=SECONDS with If-None-Match): each holds its Responder,
// not an I/O thread. Channel changes mark the waiters of that channel for a re-check; one timer
// thread re-evaluates them (answering 200 when the device's manifest changed) and answers 304
// at each deadline, with 100 ms granularity. Thread-safe.
class ManifestWaiters {
 public:
  explicit ManifestWaiters(deploy::Service* service);
  ~ManifestWaiters();

  // A counter of channel changes; take it before computing the manifest a waiter holds.
  uint64_t generation() const;
  // Holds `responder` until the manifest of `device` differs from `etag`, or `deadline`.
  // `generation` is what generation() returned before `etag` was computed: a change in between
  // is re-checked at once rather than missed. After Shutdown, answers 304 at once.
  void Add(http::Responder responder, std::string collection, std::string channel,
           deploy::DeviceQuery device, std::string etag,
           std::chrono::steady_clock::time_point deadline, uint64_t generation);
  // Called by the Service on each channel change; returns at once.
  void OnChange(const std::string& collection, const std::string& channel);
  // Answers every waiter 304 and joins the timer thread; returns how many were answered.
  // Idempotent.
  size_t Shutdown();
  size_t size() const;

 private:
  struct Waiter {
    http::Responder responder;
    std::string collection, channel;
    deploy::DeviceQuery device;
    std::string etag;
    std::chrono::steady_clock::time_point deadline;
  };
  void Loop();

  deploy::Service* service_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, std::list<Waiter>> waiters_;  // by "collection/channel"
  std::unordered_map<std::string, bool> dirty_;                 // channels to re-check
  size_t count_ = 0;
  std::thread thread_;
};

// The manifest answer for a device that already holds `if_none_match` (may be empty): 304
// without a body when it matches the manifest's ETag (or is "*"). Either way with the ETag and
// the signature header.
http::Response ManifestResponse(const std::shared_ptr<const deploy::Manifest>& m,
                                std::string_view if_none_match);

// Waiters over `service`, registered as its change listener (held weakly). The caller shuts
// them down before stopping the server.
std::shared_ptr<ManifestWaiters> StartManifestWaiters(deploy::Service* service);

}  // namespace ringo::api

#endif  // RINGO_API_MANIFEST_WAITERS_H_
