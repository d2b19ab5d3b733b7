// HTTP server on Boost.Beast: the acceptor, the I/O threads, and responses handed over from
// other threads.
#include <iostream>

#include "http/server_impl.h"

namespace ringo::http {

thread_local bool tls_io_thread = false;

Responder Responder::Then(std::function<void(Response)> then) {
  auto state = std::make_shared<State>();
  state->then = std::move(then);
  return Responder(std::move(state));
}

void Responder::Send(Response response) const {
  if (state_->sent.exchange(true)) return;
  if (state_->then) {
    state_->then(std::move(response));
    return;
  }
  state_->connection->Deliver(std::move(response));
}

void Responder::Hold() const {
  if (state_->connection) state_->connection->Hold();
}

bool Responder::Gone() const { return state_->connection && state_->connection->Gone(); }

ServerImpl::ServerImpl(const ServerOptions& options, std::shared_ptr<const Router> router)
    : options_(options), router_(std::move(router)), acceptor_(ioc_) {}

Status ServerImpl::Start() {
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    ASSIGN_OR_RETURN(tls_context_,
                     MakeServerTlsContext(options_.tls_cert_file, options_.tls_key_file));
    tls_enabled_ = true;
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgument("invalid host '" + options_.host + "': " + ec.message());
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                       ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] {
      tls_io_thread = true;
      // One safety net per worker thread: a throwing handler is caught in Dispatch, so
      // anything reaching here is a bug in the server itself.
      for (;;) {
        try {
          ioc_.run();
          break;
        } catch (const std::exception& e) {
          std::cerr << "ringo: http worker: " << e.what() << std::endl;
        }
      }
    });
  }
  return Status::Ok();
}

void ServerImpl::Stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  asio::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  {
    std::lock_guard clock(conn_mu_);
    for (auto& weak : connections_) {
      if (auto c = weak.lock()) c->Close();
    }
  }
  // Give in-flight responses a moment, then stop the loop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ServerImpl::Defer(std::shared_ptr<ConnectionBase> c, Response r) {
  bool schedule = false;
  {
    std::lock_guard lock(deferred_mu_);
    schedule = deferred_.empty();
    deferred_.emplace_back(std::move(c), std::move(r));
  }
  if (schedule) asio::post(ioc_, [this] { DrainDeferred(); });
}

bool ServerImpl::ReserveBody(size_t bytes) {
  size_t now = buffered_.load();
  do {
    if (now + bytes > options_.total_body_limit) return false;
  } while (!buffered_.compare_exchange_weak(now, now + bytes));
  return true;
}

void ServerImpl::Accept() {
  // With one I/O thread the loop itself serialises each connection's handlers, so connections
  // run on its executor directly. A strand, needed with more threads, is too large for the
  // type-erased executor Beast's stream keeps: every copy of it (a few each request) was a
  // shared allocation.
  asio::any_io_executor executor = ioc_.get_executor();
  if (threads() > 1) executor = asio::make_strand(ioc_);
  acceptor_.async_accept(executor, [this](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    } else {
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      open_.fetch_add(1);
      std::shared_ptr<ConnectionBase> c;
      if (tls_enabled_) {
        std::shared_ptr<asio::ssl::context> tls;
        {
          std::lock_guard lock(tls_mu_);
          tls = tls_context_;
        }
        c = std::make_shared<Connection<TlsStream>>(std::move(s), this, std::move(tls));
      } else {
        c = std::make_shared<Connection<PlainStream>>(std::move(s), this, nullptr);
      }
      {
        std::lock_guard lock(conn_mu_);
        // Drop entries of closed connections now and then.
        if (connections_.size() > 1024) {
          std::erase_if(connections_, [](auto& w) { return w.expired(); });
        }
        connections_.push_back(c);
      }
      c->Start();
    }
    Accept();
  });
}

void ServerImpl::DrainDeferred() {
  std::vector<std::pair<std::shared_ptr<ConnectionBase>, Response>> batch;
  {
    std::lock_guard lock(deferred_mu_);
    batch.swap(deferred_);
  }
  for (auto& [c, r] : batch) c->Deliver(std::move(r));
}

Result<std::unique_ptr<Server>> StartServer(const ServerOptions& options,
                                            std::shared_ptr<const Router> router) {
  auto server = std::make_unique<ServerImpl>(options, std::move(router));
  RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace ringo::http
