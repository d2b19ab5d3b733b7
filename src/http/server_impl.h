// The HTTP server's private parts, shared by server.cc and connection*.cc: the server behind
// StartServer and one connection's request/response cycle.
#ifndef RINGO_HTTP_SERVER_IMPL_H_
#define RINGO_HTTP_SERVER_IMPL_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>  // must precede Asio with GCC 12 + C++20 (see reference/limits.md)
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <type_traits>

#include "http/http.h"

namespace ringo::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// True on the server's I/O threads: responses completed there are written directly.
extern thread_local bool tls_io_thread;

Method ToMethod(bhttp::verb v);

class ServerImpl;

// Blocks of a few sizes kept by each thread once freed, for what every request allocates and
// frees again (the fields of its parsed header). Larger requests go to operator new.
void* TakeBlock(size_t bytes);
void GiveBlock(void* p, size_t bytes);

// The allocator of request fields: TakeBlock/GiveBlock. Stateless, so any two are equal.
template <class T>
struct FieldsAllocator {
  using value_type = T;
  FieldsAllocator() = default;
  template <class U>
  FieldsAllocator(const FieldsAllocator<U>&) {}  // NOLINT: rebinding converts implicitly
  T* allocate(size_t n) { return static_cast<T*>(TakeBlock(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { GiveBlock(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const FieldsAllocator<U>&) const {
    return true;
  }
};

template <class Body>
using RequestParser = bhttp::request_parser<Body, FieldsAllocator<char>>;

// A TLS server context from a PEM certificate chain and private key: TLS 1.2 at least, no
// compression or renegotiation, OpenSSL's default cipher list, the server's cipher preference.
// kInvalidArgument naming the file and OpenSSL's reason when a file cannot be read, holds no
// certificate or key, or the key does not match the certificate.
Result<std::shared_ptr<asio::ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                 const std::string& key_file);

// What the server and responders need of a connection, whatever it runs on.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void Start() = 0;
  virtual void Close() = 0;                   // from any thread
  virtual void Deliver(Response response) = 0;  // on the connection's strand
  virtual void Hold() = 0;  // from the handler, on the connection's strand (Responder::Hold)
  virtual bool Gone() const = 0;  // from any thread (Responder::Gone)
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection's request/response cycle over plain TCP or TLS. Both are instantiated in
// connection.cc and connection_write.cc; the plain one pays nothing for the other.
template <typename Stream>
class Connection final : public ConnectionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  // `tls` is the context of a TLS connection (kept alive by it), null for plain TCP.
  Connection(tcp::socket socket, ServerImpl* server, std::shared_ptr<asio::ssl::context> tls);
  ~Connection() override;
  void Start() override;
  void Close() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      beast::error_code ec;
      self->Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
      self->Tcp().close();
    });
  }
  void Deliver(Response response) override;
  void Hold() override { hold_ = true; }
  bool Gone() const override { return gone_.load(std::memory_order_relaxed); }

 private:
  static Stream MakeStream(tcp::socket&& socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }
  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnBody(beast::error_code ec);
  void ReadRaw();  // a declared-length upload, straight to its file
  void ResetRequest();
  void Dispatch();
  void WatchPeer();
  void OnPeerReadable(beast::error_code ec);
  void SendEarly(Response r);  // an error before the body was read; closes afterwards
  void Send(Response& r);      // on the connection's strand: metrics, observer, the write
  void WriteBuffered(Response& r);
  bool WriteSimple(Response& r);  // false: needs Beast's serializer
  void WriteFile(Response& r);
  void SendfileLoop();  // plain TCP: sendfile(2)
  void CopyFileLoop();  // TLS: the file read and written through the TLS stream
  struct BodyStream;
  void WriteStream(Response& r);
  void StreamLoop(std::shared_ptr<BodyStream> body);
  void StreamUntilDone(std::shared_ptr<BodyStream> body);  // a body of kLengthUnknown
  void AfterWrite(beast::error_code ec, bool close);
  void Linger();
  void Finish(unsigned status);

  std::shared_ptr<asio::ssl::context> tls_;  // before stream_, which refers to it
  Stream stream_;
  ServerImpl* server_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser<bhttp::empty_body>> header_parser_;
  std::optional<RequestParser<bhttp::string_body>> string_parser_;
  std::optional<RequestParser<bhttp::file_body>> file_parser_;
  Request request_;
  std::shared_ptr<Responder::State> spare_state_;  // see Dispatch
  bool peer_known_ = false;
  Router::Match match_;
  bool keep_alive_ = true;
  bool http10_ = false;    // the current request is HTTP/1.0 (no chunked coding)
  bool hold_ = false;      // the current request's handler called Responder::Hold
  bool answered_ = false;  // the current request's answer has gone to Send
  bool watching_ = false;  // WatchPeer's wait is pending
  std::chrono::steady_clock::time_point started_;
  // Response in flight.
  std::shared_ptr<void> response_holder_;
  Response out_;      // a buffered answer written by WriteSimple
  std::string head_;  // its status line and header, room kept from answer to answer
  int file_fd_ = -1;
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  std::unique_ptr<std::vector<char>> file_buffer_{};  // CopyFileLoop's, while a file is sent
  unsigned status_ = 0;
  std::atomic<bool> finished_once_{false};
  std::atomic<bool> gone_{false};  // the client of a held request went away
  std::unique_ptr<std::array<char, 16384>> scratch_;  // for Linger
  size_t reserved_ = 0;  // body bytes accounted with the server for the current request
  std::unique_ptr<std::vector<char>> raw_;  // ReadRaw's buffer, only while an upload lasts
  uint64_t raw_left_ = 0;                   // upload bytes ReadRaw has yet to read
  void ReleaseReserved();
};

// A handler's promise of a response: a handler that drops it unsent answers 500.
struct Responder::State {
  std::shared_ptr<ConnectionBase> connection;
  std::function<void(Response)> then;  // instead of a connection: Responder::Then
  std::atomic<bool> sent{false};
  ~State() {
    if (!sent.load() && then) {
      then(JsonError(500, "INTERNAL_ERROR", "the handler produced no response"));
    } else if (!sent.load() && connection) {
      connection->Deliver(JsonError(500, "INTERNAL_ERROR", "the handler produced no response"));
    }
  }
};

// The Server StartServer returns: an acceptor and a pool of I/O threads over one io_context.
class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, std::shared_ptr<const Router> router);

  ~ServerImpl() override { Stop(); }

  Status Start();

  uint16_t port() const override { return port_; }
  Metrics& metrics() override { return metrics_; }
  int64_t open_connections() const override { return open_.load(); }
  int threads() const override { return std::max(1, options_.threads); }

  void Stop() override;
  bool tls() const override { return tls_enabled_; }
  Status ReloadTls() override;

  // Responses completed on other threads (the store's writer) are handed over in batches: one
  // wake-up of the I/O loop per batch rather than one per response, which under load is the
  // difference between a context switch per request and one per group commit.
  void Defer(std::shared_ptr<ConnectionBase> c, Response r);

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  // Accounts for `bytes` of body about to be buffered; false (nothing reserved) when that would
  // pass options().total_body_limit.
  bool ReserveBody(size_t bytes);
  void ReleaseBody(size_t bytes) { buffered_.fetch_sub(bytes); }
  void ConnectionClosed() { open_.fetch_sub(1); }

 private:
  void Accept();

  ServerOptions options_;
  std::shared_ptr<const Router> router_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  // TLS: the context new connections take; replaced whole by ReloadTls (a connection keeps the
  // one it started with). The plain path never touches the lock.
  bool tls_enabled_ = false;
  std::mutex tls_mu_;
  std::shared_ptr<asio::ssl::context> tls_context_{};
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  Metrics metrics_;
  std::atomic<int64_t> open_{0};
  std::atomic<size_t> buffered_{0};
  std::mutex conn_mu_;
  std::vector<std::weak_ptr<ConnectionBase>> connections_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::mutex deferred_mu_;
  std::vector<std::pair<std::shared_ptr<ConnectionBase>, Response>> deferred_;

  void DrainDeferred();
};

}  // namespace ringo::http

#endif  // RINGO_HTTP_SERVER_IMPL_H_
