// One HTTP connection: reading the header and body within limits, routing, the handler's safety
// net, and handing the response to the connection's strand.
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <iostream>

#include "common/util.h"
#include "http/server_impl.h"

namespace ringo::http {

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

namespace {

constexpr size_t kBlockSizes[] = {64, 128, 256, 512, 1024};
constexpr size_t kBlocksKept = 256;  // per size and thread

// Beast reads at most the read buffer's free room (512 bytes at least) at a time, so a body is
// given room to be read in pieces of up to kBodyReadRoom; past the request the buffer keeps at
// most kKeptReadRoom.
constexpr size_t kBodyReadRoom = 64 * 1024;
constexpr size_t kKeptReadRoom = 16 * 1024;

// Whether this thread's lists exist: blocks freed before they are made or after they are gone
// (a thread's last destructors) go straight back to the heap.
thread_local bool t_blocks_alive = false;

// Each thread's freed blocks by size; given back to the heap when the thread ends.
struct BlockLists {
  std::vector<void*> free[std::size(kBlockSizes)];
  BlockLists() {
    for (auto& list : free) list.reserve(kBlocksKept);
    t_blocks_alive = true;
  }
  ~BlockLists() {
    t_blocks_alive = false;
    for (auto& list : free) {
      for (void* p : list) ::operator delete(p);
    }
  }
};

thread_local BlockLists t_blocks;

size_t SizeClass(size_t bytes) {
  size_t i = 0;
  while (i < std::size(kBlockSizes) && kBlockSizes[i] < bytes) ++i;
  return i;
}

}  // namespace

void* TakeBlock(size_t bytes) {
  size_t c = SizeClass(bytes);
  if (c == std::size(kBlockSizes)) return ::operator new(bytes);
  std::vector<void*>& list = t_blocks.free[c];
  if (list.empty()) return ::operator new(kBlockSizes[c]);
  void* p = list.back();
  list.pop_back();
  return p;
}

void GiveBlock(void* p, size_t bytes) {
  size_t c = SizeClass(bytes);
  // A block may be freed on another thread than took it (a connection released by a
  // responder's thread): it joins that thread's list, which is as good.
  if (c == std::size(kBlockSizes) || !t_blocks_alive || t_blocks.free[c].size() >= kBlocksKept) {
    return ::operator delete(p);
  }
  t_blocks.free[c].push_back(p);
}

template <typename Stream>
Connection<Stream>::Connection(tcp::socket socket, ServerImpl* server,
                               std::shared_ptr<asio::ssl::context> tls)
    : tls_(std::move(tls)), stream_(MakeStream(std::move(socket), tls_.get())), server_(server) {}

template <typename Stream>
Connection<Stream>::~Connection() {
  ReleaseReserved();
}

template <typename Stream>
void Connection<Stream>::Start() {
  if constexpr (kTls) {
    // The handshake is bounded like an idle connection; a failed one (a scanner, a client that
    // refuses the certificate) just closes: it is the client's to report.
    Tcp().expires_after(server_->options().idle_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = Self()](beast::error_code ec) {
                              if (ec) return self->Finish(0);
                              self->ReadHeader();
                            });
  } else {
    ReadHeader();
  }
}

template <typename Stream>
void Connection<Stream>::ReleaseReserved() {
  if (reserved_ > 0) server_->ReleaseBody(reserved_);
  reserved_ = 0;
}

// Empties the request for the next one on this connection, keeping what its strings and vectors
// hold. The peer is the connection's: asked of the kernel once, not once a request.
template <typename Stream>
void Connection<Stream>::ResetRequest() {
  request_.method = Method::kGet;
  request_.target.clear();
  request_.path.clear();
  request_.query.clear();
  request_.body.clear();
  request_.body_file.clear();
  request_.route_suffix.clear();
  request_.principal.clear();
  request_.scope.clear();
  request_.path_params.clear();
  if (!peer_known_) {
    peer_known_ = true;
    beast::error_code ec;
    auto remote = Tcp().socket().remote_endpoint(ec);
    request_.peer = ec ? std::string() : remote.address().to_string();
  }
}

template <typename Stream>
void Connection<Stream>::ReadHeader() {
  ReleaseReserved();
  request_.body.clear();
  request_.body.shrink_to_fit();
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<uint32_t>(server_->options().header_limit));
  // Beast checks Content-Length against the body limit while parsing the header; the real
  // limit depends on the route, so it is applied once the route is known.
  header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  string_parser_.reset();
  file_parser_.reset();
  Tcp().expires_after(server_->options().idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *header_parser_,
      [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

template <typename Stream>
void Connection<Stream>::OnHeader(beast::error_code ec) {
  if (ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      ResetRequest();
      request_.headers.clear();
      match_ = Router::Match{};
      match_.route = "invalid";
      started_ = std::chrono::steady_clock::now();
      return SendEarly(JsonError(431, "BAD_REQUEST", "request header too large"));
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
      return Finish(0);
    }
    keep_alive_ = false;
    ResetRequest();
    request_.headers.clear();
    match_ = Router::Match{};
    match_.route = "invalid";
    started_ = std::chrono::steady_clock::now();
    return SendEarly(JsonError(400, "BAD_REQUEST", "malformed HTTP request: " + ec.message()));
  }
  started_ = std::chrono::steady_clock::now();
  auto& h = header_parser_->get();
  ResetRequest();
  request_.method = ToMethod(h.method());
  request_.target.assign(h.target().data(), h.target().size());
  request_.tls = kTls;
  std::string_view target = request_.target;
  size_t q = target.find('?');
  request_.path.assign(target.substr(0, q));
  if (q != std::string::npos) request_.query.assign(target.substr(q + 1));
  // Header entries are overwritten in place: a keep-alive connection's requests look alike, so
  // after its first request the strings already have room and nothing is allocated.
  size_t n = 0;
  for (const auto& field : h) {
    auto name = field.name_string();
    auto value = field.value();
    if (n == request_.headers.size()) request_.headers.emplace_back();
    auto& [k, v] = request_.headers[n++];
    k.assign(name.data(), name.size());
    for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    v.assign(value.data(), value.size());
  }
  request_.headers.resize(n);
  keep_alive_ = h.keep_alive();
  http10_ = h.version() == 10;
  server_->router().Find(request_.method, request_.path, &match_);
  // Authentication comes before any body is read, for known and unknown paths alike, so no
  // stranger can make the server hold memory.
  if (const auto& guard = server_->router().guard()) {
    if (std::optional<Response> denied = guard(request_, match_.access)) {
      match_.route = "denied";
      return SendEarly(std::move(*denied));
    }
  }
  if (!match_.handler) {
    match_.route = "unmatched";
    // Nothing will read the body: answer now, and close the connection if one was announced
    // rather than reading it to keep the connection usable.
    bool has_body = header_parser_->chunked() ||
                    (header_parser_->content_length() && *header_parser_->content_length() > 0);
    if (has_body) keep_alive_ = false;
    Tcp().expires_never();
    return Dispatch();
  }
  ReadBody();
}

template <typename Stream>
void Connection<Stream>::ReadBody() {
  Tcp().expires_after(server_->options().request_timeout);
  bool expect_continue =
      beast::iequals(header_parser_->get()[bhttp::field::expect], "100-continue");
  if (match_.handler && match_.stream_body) {
    std::filesystem::path dir = server_->options().upload_dir;
    std::error_code fec;
    std::filesystem::create_directories(dir, fec);
    request_.body_file = (dir / ("upload-" + NewId())).string();
    file_parser_.emplace(std::move(*header_parser_));
    file_parser_->body_limit(server_->options().stream_body_limit);
    beast::error_code ec;
    file_parser_->get().body().open(request_.body_file.c_str(), beast::file_mode::write, ec);
    if (ec) {
      keep_alive_ = false;
      return SendEarly(
          JsonError(500, "INTERNAL_ERROR", "cannot open upload file: " + ec.message()));
    }
  } else {
    string_parser_.emplace(std::move(*header_parser_));
    string_parser_->body_limit(server_->options().body_limit);
    // Refuse a declared oversized body before reading it.
    auto len = string_parser_->content_length();
    if (len && *len > server_->options().body_limit) {
      keep_alive_ = false;
      return SendEarly(JsonError(413, "BAD_REQUEST",
                                 "request body of " + std::to_string(*len) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(server_->options().body_limit)));
    }
    // A chunked body may grow to the limit: account for that much. A request with neither
    // Content-Length nor chunked encoding has no body (RFC 9112 6.3) and reserves nothing;
    // reserving the limit for every GET turned busy keep-alive loads into 503s.
    size_t want = len ? static_cast<size_t>(*len)
                      : (string_parser_->chunked() ? server_->options().body_limit : 0);
    if (want > 0) {
      if (!server_->ReserveBody(want)) {
        keep_alive_ = false;
        Response busy = JsonError(503, "TEMPORARILY_UNAVAILABLE",
                                  "the server is receiving too many request bodies at once; retry");
        busy.headers.emplace_back("Retry-After", "1");
        return SendEarly(std::move(busy));
      }
      reserved_ = want;
      buffer_.reserve(buffer_.size() + std::min(want, kBodyReadRoom));
    }
  }
  auto read = [self = Self()] {
    auto cb = [self](beast::error_code ec, size_t) { self->OnBody(ec); };
    auto len = self->file_parser_ ? self->file_parser_->content_length() : boost::none;
    if (len && !self->file_parser_->chunked()) {
      if (*len > self->server_->options().stream_body_limit) {
        return self->OnBody(bhttp::error::body_limit);
      }
      self->raw_left_ = *len;
      return self->ReadRaw();
    }
    if (self->file_parser_) {
      self->buffer_.reserve(self->buffer_.size() + kBodyReadRoom);
      bhttp::async_read(self->stream_, self->buffer_, *self->file_parser_, cb);
    } else {
      bhttp::async_read(self->stream_, self->buffer_, *self->string_parser_, cb);
    }
  };
  if (expect_continue) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue),
                      [self = Self(), read](beast::error_code ec, size_t) {
                        if (ec) return self->Finish(0);
                        read();
                      });
  } else {
    read();
  }
}

namespace {

void WriteAll(beast::file& file, const char* data, size_t n, beast::error_code& ec) {
  while (n > 0 && !ec) {
    size_t done = file.write(data, n, ec);
    data += done;
    n -= done;
  }
}

}  // namespace

// Beast's parser reads a body 64 KB at a time, a handler round trip each, which held uploads to
// ~50 MB/s; an upload of declared length goes to its file in reads of up to 1 MB instead.
template <typename Stream>
void Connection<Stream>::ReadRaw() {
  beast::file& file = file_parser_->get().body().file();
  beast::error_code ec;
  if (buffer_.size() > 0 && raw_left_ > 0) {
    // Body bytes that arrived with the header.
    size_t n = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), raw_left_));
    WriteAll(file, static_cast<const char*>(buffer_.data().data()), n, ec);
    buffer_.consume(n);
    raw_left_ -= n;
    if (ec) return OnBody(ec);
  }
  if (raw_left_ == 0) {
    raw_.reset();
    return OnBody({});
  }
  if (!raw_) raw_ = std::make_unique<std::vector<char>>(size_t{1} << 20);
  size_t want = static_cast<size_t>(std::min<uint64_t>(raw_->size(), raw_left_));
  stream_.async_read_some(
      asio::buffer(raw_->data(), want), [self = Self()](beast::error_code ec, size_t n) {
        if (!ec) {
          WriteAll(self->file_parser_->get().body().file(), self->raw_->data(), n, ec);
          self->raw_left_ -= n;
        }
        if (ec) {
          self->raw_.reset();
          return self->OnBody(ec);
        }
        self->ReadRaw();
      });
}

template <typename Stream>
void Connection<Stream>::OnBody(beast::error_code ec) {
  if (ec) {
    if (!request_.body_file.empty()) {
      file_parser_->get().body().file().close(ec);
      std::error_code fec;
      std::filesystem::remove(request_.body_file, fec);
      request_.body_file.clear();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return SendEarly(JsonError(413, "BAD_REQUEST", "request body exceeds the size limit"));
    }
    if (ec == beast::error::timeout) {
      keep_alive_ = false;
      return SendEarly(JsonError(408, "BAD_REQUEST", "request body not received in time"));
    }
    return Finish(0);
  }
  if (file_parser_) {
    beast::error_code cec;
    file_parser_->get().body().file().close(cec);
    keep_alive_ = file_parser_->keep_alive();
  } else {
    request_.body = std::move(string_parser_->get().body());
    keep_alive_ = string_parser_->keep_alive();
  }
  // The request is copied out: the parsers' header fields go back to this thread's blocks now,
  // not after the answer is written, so 1,000 connections awaiting their writes do not hold
  // 1,000 requests' worth and outgrow the lists.
  header_parser_.reset();
  string_parser_.reset();
  file_parser_.reset();
  // Room made for a large body goes back: an idle connection keeps what a header needs.
  if (buffer_.capacity() > kKeptReadRoom) buffer_.shrink_to_fit();
  Tcp().expires_never();
  Dispatch();
}

template <typename Stream>
void Connection<Stream>::Dispatch() {
  if (!match_.handler) {
    if (match_.path_known) {
      return Deliver(JsonError(405, "BAD_REQUEST",
                               "method " + std::string(MethodName(request_.method)) +
                                   " is not allowed for " + request_.path));
    }
    return Deliver(JsonError(404, "ENDPOINT_NOT_FOUND", "no endpoint at " + request_.path));
  }
  request_.route_suffix = match_.suffix;
  // Swapped, not moved: both vectors keep their room for the next request.
  request_.path_params.swap(match_.params);
  answered_ = hold_ = false;
  // The last request's responder state when nothing else holds it: no allocation per request.
  std::shared_ptr<Responder::State> state = std::move(spare_state_);
  if (state && state.use_count() == 1) {
    state->sent = false;
  } else {
    state = std::make_shared<Responder::State>();
  }
  state->connection = Self();
  {
    Responder responder(state);
    // The one safety net for handlers: any exception becomes a 500 with a log line.
    try {
      (*match_.handler)(request_, responder);
    } catch (const std::exception& e) {
      std::cerr << "ringo: handler for " << request_.path << " failed: " << e.what() << std::endl;
      responder.Send(JsonError(500, "INTERNAL_ERROR", std::string("internal error: ") + e.what()));
    } catch (...) {
      std::cerr << "ringo: handler for " << request_.path << " failed" << std::endl;
      responder.Send(JsonError(500, "INTERNAL_ERROR", "internal error"));
    }
  }
  // No responder left but ours: do what the state's destructor does for a dropped responder,
  // and keep the state (without its hold on this connection) for the next request. A handler
  // that kept a responder owns the state now; its last copy answers as always.
  if (state.use_count() == 1) {
    if (!state->sent.exchange(true)) {
      Deliver(JsonError(500, "INTERNAL_ERROR", "the handler produced no response"));
    }
    state->connection.reset();
    spare_state_ = std::move(state);
  }
  if (hold_ && !answered_) WatchPeer();
}

// A held request (a long-poll) whose client goes away: the socket is closed then, not when the
// answer comes minutes later, so devices that vanish do not pile up descriptors and half-closed
// connections, and Gone() tells the holder it may answer (into nothing) and drop the request.
// A client that sends its next request meanwhile is read after the answer.
template <typename Stream>
void Connection<Stream>::WatchPeer() {
  watching_ = true;
  Tcp().socket().async_wait(tcp::socket::wait_read,
                            [self = Self()](beast::error_code ec) { self->OnPeerReadable(ec); });
}

template <typename Stream>
void Connection<Stream>::OnPeerReadable(beast::error_code ec) {
  if (ec || !watching_) return;  // cancelled: the answer is on its way
  watching_ = false;
  char c;
  ssize_t n = ::recv(Tcp().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return WatchPeer();
  beast::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  // Closed and counted as closed now; the holder sees Gone() and lets go of its responder.
  gone_.store(true, std::memory_order_relaxed);
  Finish(0);
}

template <typename Stream>
void Connection<Stream>::Deliver(Response response) {
  if (!tls_io_thread) {
    server_->Defer(Self(), std::move(response));
    return;
  }
  // With one I/O thread, this thread is the connection's: write at once. Through the
  // type-erased executor even an inline dispatch wrapped (and allocated) the response.
  if (server_->threads() == 1) return Send(response);
  asio::dispatch(stream_.get_executor(), [self = Self(), r = std::move(response)]() mutable {
    self->Send(r);
  });
}

template <typename Stream>
void Connection<Stream>::Send(Response& r) {
  answered_ = true;
  if (watching_) {
    watching_ = false;
    beast::error_code ignored;
    Tcp().socket().cancel(ignored);
  }
  if (!request_.body_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(request_.body_file, ec);
    request_.body_file.clear();
  }
  status_ = r.status;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  server_->metrics().Record(match_.route, request_.method, r.status, secs);
  if (const auto& observe = server_->router().observer()) observe(request_, match_, r.status);
  if (r.stream && r.status < 300) {
    WriteStream(r);
  } else if (!r.file_path.empty() && r.status < 300) {
    WriteFile(r);
  } else {
    WriteBuffered(r);
  }
}

template <typename Stream>
void Connection<Stream>::SendEarly(Response r) {
  keep_alive_ = false;
  Deliver(std::move(r));
}

template class Connection<PlainStream>;
template class Connection<TlsStream>;

}  // namespace ringo::http
