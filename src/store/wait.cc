// Synchronous waiting on a store completion, for callers without an event loop.
#include <future>
#include <memory>

#include "store/store.h"

namespace ringo::store {

Status Wait(const std::function<void(Done)>& start) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  start([promise](Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

}  // namespace ringo::store
