// A background thread that calls a function now and then every interval until stopped.
#ifndef RINGO_COMMON_PERIODIC_H_
#define RINGO_COMMON_PERIODIC_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ringo {

class Periodic {
 public:
  Periodic() = default;
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // Starts the thread: `tick` runs at once, then `interval` after each run ends.
  void Start(std::chrono::milliseconds interval, std::function<void()> tick) {
    thread_ = std::thread([this, interval, tick = std::move(tick)] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        lock.unlock();
        tick();
        lock.lock();
        wake_.wait_for(lock, interval, [this] { return stop_; });
      }
    });
  }

  // Waits for a running tick to end; idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ringo

#endif  // RINGO_COMMON_PERIODIC_H_
