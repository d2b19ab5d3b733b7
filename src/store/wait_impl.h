// Template bodies of store::Wait/WaitFor (included by store.h only).
#ifndef RINGO_STORE_WAIT_IMPL_H_
#define RINGO_STORE_WAIT_IMPL_H_

#include <future>

namespace ringo::store {

template <typename T>
Result<T> WaitFor(const std::function<void(DoneWith<T>)>& start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace ringo::store

#endif  // RINGO_STORE_WAIT_IMPL_H_
