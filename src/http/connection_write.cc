// Writing a response on a connection: buffered bodies, files by sendfile, HEAD, and what
// follows a write (keep-alive, lingering close).
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/server_impl.h"

namespace ringo::http {

namespace {

// The reason phrase of an error status in capitals, as Werkzeug (which serves MLflow) writes
// it: MLflow's clients put the status line into their exceptions ("401 Client Error:
// UNAUTHORIZED") and scripts and MLflow's own tests match on those words.
std::string_view ErrorReason(unsigned status) {
  static const auto* table = [] {
    auto* t = new std::array<std::string, 600>();
    for (unsigned code = 400; code < t->size(); ++code) {
      beast::string_view phrase = bhttp::obsolete_reason(static_cast<bhttp::status>(code));
      std::string& upper = (*t)[code];
      for (char c : phrase) upper += char(std::toupper(static_cast<unsigned char>(c)));
    }
    return t;
  }();
  return status < table->size() ? std::string_view((*table)[status]) : std::string_view();
}

}  // namespace

// "Name: value\r\n" lines into (name, value) pairs, for Beast's serializer.
template <typename F>
void ForEachLine(const std::string& lines, F f) {
  std::string_view rest = lines;
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) f(line.substr(0, colon), line.substr(colon + 2));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
}

template <typename Res>
void ApplyCommonHeaders(Res& res, const Response& r, bool keep_alive) {
  if (r.status >= 400) {
    std::string_view reason = ErrorReason(unsigned(r.status));
    if (!reason.empty() && reason != "<UNKNOWN-STATUS>") {
      res.reason(beast::string_view(reason.data(), reason.size()));
    }
  }
  res.set(bhttp::field::server, "ringo");
  if (!r.content_type.empty()) {
    res.set(bhttp::field::content_type,
            beast::string_view(r.content_type.data(), r.content_type.size()));
  }
  for (const auto& [k, v] : r.headers) res.set(k, v);
  if (r.header_lines) {
    ForEachLine(*r.header_lines, [&res](std::string_view k, std::string_view v) {
      res.set(beast::string_view(k.data(), k.size()), beast::string_view(v.data(), v.size()));
    });
  }
  res.keep_alive(keep_alive);
}

namespace {

bool Plain(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

bool SameName(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

// Names the writer sets itself, or that change how the message is framed: an answer naming one
// goes through Beast's serializer.
bool Framing(std::string_view name) {
  return SameName(name, "connection") || SameName(name, "content-length") ||
         SameName(name, "transfer-encoding");
}

// What WriteSimple's header must equal: Beast's `set` keeps only the last of a name, so a field
// is written where its name occurs for the last time.
bool LastOfName(const Response& r, size_t i, std::string_view name) {
  for (size_t j = i + 1; j < r.headers.size(); ++j) {
    if (SameName(r.headers[j].first, name)) return false;
  }
  return true;
}

}  // namespace

// Buffered answers (all but files and produced bodies) are formatted into a string the
// connection keeps, byte for byte what Beast writes for them, and sent with one gather write:
// no message object, field list or serializer is allocated for each answer.
template <typename Stream>
bool Connection<Stream>::WriteSimple(Response& r) {
  if (r.status < 100 || r.status > 999 || !Plain(r.content_type)) return false;
  for (const auto& [k, v] : r.headers) {
    if (Framing(k) || !Plain(k) || !Plain(v) || k.empty()) return false;
  }
  bool named_type = false, named_server = false;
  for (const auto& [k, v] : r.headers) {
    named_type = named_type || SameName(k, "content-type");
    named_server = named_server || SameName(k, "server");
  }
  if (r.header_lines && (named_type || named_server || !r.headers.empty())) return false;
  std::string_view reason;
  if (r.status >= 400) reason = ErrorReason(r.status);
  if (reason.empty() || reason == "<UNKNOWN-STATUS>") {
    beast::string_view p = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
    reason = std::string_view(p.data(), p.size());
  }
  char num[24];
  std::string& h = head_;
  h.assign("HTTP/1.1 ");
  h.append(num, std::to_chars(num, num + sizeof num, r.status).ptr);
  h.append(" ").append(reason).append("\r\n");
  if (!named_server) h.append("Server: ringo\r\n");
  if (!r.content_type.empty() && !named_type) {
    h.append("Content-Type: ").append(r.content_type).append("\r\n");
  }
  for (size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [k, v] = r.headers[i];
    if (LastOfName(r, i, k)) h.append(k).append(": ").append(v).append("\r\n");
  }
  if (r.header_lines) h.append(*r.header_lines);
  if (!keep_alive_) h.append("Connection: close\r\n");
  h.append("Content-Length: ");
  h.append(num, std::to_chars(num, num + sizeof num, r.body.size()).ptr);
  h.append("\r\n\r\n");
  out_ = std::move(r);
  bool close = !keep_alive_;
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head_), asio::buffer(out_.body)};
  if (request_.method == Method::kHead) bufs[1] = asio::const_buffer();
  asio::async_write(stream_, bufs, [self = Self(), close](beast::error_code ec, size_t) {
    self->AfterWrite(ec, close);
  });
  return true;
}

template <typename Stream>
void Connection<Stream>::WriteBuffered(Response& r) {
  if (WriteSimple(r)) return;
  bool head = request_.method == Method::kHead;
  bool close = !keep_alive_;
  if (head) {
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(r.status), 11);
    ApplyCommonHeaders(*res, r, keep_alive_);
    res->content_length(r.body.size());
    response_holder_ = res;
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    bhttp::async_write_header(stream_, *sr,
                              [self = Self(), sr, close](beast::error_code ec, size_t) {
                                self->AfterWrite(ec, close);
                              });
    return;
  }
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
      static_cast<bhttp::status>(r.status), 11);
  ApplyCommonHeaders(*res, r, keep_alive_);
  res->body() = std::move(r.body);
  res->prepare_payload();
  response_holder_ = res;
  bhttp::async_write(stream_, *res,
                     [self = Self(), close](beast::error_code ec, size_t) {
                       self->AfterWrite(ec, close);
                     });
}

template <typename Stream>
void Connection<Stream>::WriteFile(Response& r) {
  int fd = ::open(r.file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Response e = JsonError(404, "RESOURCE_DOES_NOT_EXIST", "file not found");
    return WriteBuffered(e);
  }
  bool close = !keep_alive_;
  auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
      static_cast<bhttp::status>(r.status), 11);
  ApplyCommonHeaders(*res, r, keep_alive_);
  res->content_length(r.file_length);
  response_holder_ = res;
  if (request_.method == Method::kHead) {
    ::close(fd);
    fd = -1;
  }
  file_fd_ = fd;
  file_offset_ = r.file_offset;
  file_remaining_ = fd >= 0 ? r.file_length : 0;
  auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
  bhttp::async_write_header(stream_, *sr,
                            [self = Self(), sr, close](beast::error_code ec, size_t) {
                              if (ec || self->file_remaining_ == 0)
                                return self->AfterWrite(ec, close);
                              if constexpr (kTls) {
                                self->CopyFileLoop();
                              } else {
                                self->SendfileLoop();
                              }
                            });
}

// sendfile(2) straight from the page cache to the socket; on EAGAIN wait for writability.
template <typename Stream>
void Connection<Stream>::SendfileLoop() {
  bool close = !keep_alive_;
  auto& sock = Tcp().socket();
  sock.native_non_blocking(true);
  while (file_remaining_ > 0) {
    off_t off = static_cast<off_t>(file_offset_);
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(file_remaining_, 1u << 30));
    ssize_t n = ::sendfile(sock.native_handle(), file_fd_, &off, chunk);
    if (n > 0) {
      file_offset_ += uint64_t(n);
      file_remaining_ -= uint64_t(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Tcp().expires_after(server_->options().request_timeout);
      sock.async_wait(tcp::socket::wait_write, [self = Self()](beast::error_code ec) {
        if (ec) return self->AfterWrite(ec, true);
        self->SendfileLoop();
      });
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    // n == 0 (file shrank) or a hard error: the response cannot be completed.
    return AfterWrite(beast::error_code(n == 0 ? EIO : errno, beast::system_category()), true);
  }
  AfterWrite({}, close);
}

// A produced body: its bytes left and one buffer, refilled after each write completes.
template <typename Stream>
struct Connection<Stream>::BodyStream {
  BodySource produce;
  uint64_t left = 0;  // kLengthUnknown: until the source ends
  bool chunked = false;
  std::vector<char> buffer;
};

template <typename Stream>
void Connection<Stream>::WriteStream(Response& r) {
  bool until_done = r.stream_length == kLengthUnknown;
  if (until_done && http10_) keep_alive_ = false;  // its end is the connection's
  bool close = !keep_alive_;
  auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
      static_cast<bhttp::status>(r.status), 11);
  ApplyCommonHeaders(*res, r, keep_alive_);
  auto body = std::make_shared<BodyStream>();
  if (!until_done) {
    res->content_length(r.stream_length);
  } else if (!http10_) {
    res->chunked(true);
    body->chunked = true;
  }
  response_holder_ = res;
  body->produce = std::move(r.stream);
  body->left = request_.method == Method::kHead ? 0 : r.stream_length;
  auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
  bhttp::async_write_header(
      stream_, *sr, [self = Self(), sr, body, close](beast::error_code ec, size_t) {
        if (ec || body->left == 0) return self->AfterWrite(ec, close);
        body->buffer.resize(64 << 10);
        if (body->left == kLengthUnknown) return self->StreamUntilDone(body);
        self->StreamLoop(body);
      });
}

// Piece after piece until the source returns none; chunked, each piece goes out framed as
// "<hex length>\r\n<piece>\r\n" (its head written into room kept before it) and the body ends
// with a last chunk of length 0.
template <typename Stream>
void Connection<Stream>::StreamUntilDone(std::shared_ptr<BodyStream> body) {
  constexpr size_t kHead = 10;  // the hex length of a piece of 64 kB and CRLF
  char* piece = body->buffer.data() + kHead;
  size_t room = body->buffer.size() - kHead - 2;
  Result<size_t> n = body->produce(std::span<char>(piece, room));
  if (!n.ok() || *n > room) {
    std::cerr << "ringo: response to " << request_.path << " cut short: "
              << (n.ok() ? "the source overran its buffer" : n.status().message()) << std::endl;
    return AfterWrite(beast::error_code(EIO, beast::system_category()), true);
  }
  Tcp().expires_after(server_->options().request_timeout);
  if (*n == 0) {
    if (!body->chunked) return AfterWrite({}, true);
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kLastChunk.data(), kLastChunk.size()),
                      [self = Self(), body](beast::error_code ec, size_t) {
                        self->AfterWrite(ec, !self->keep_alive_);
                      });
    return;
  }
  char* start = piece;
  size_t length = *n;
  if (body->chunked) {
    char head[kHead];
    char* end = std::to_chars(head, head + kHead - 2, *n, 16).ptr;
    *end++ = '\r';
    *end++ = '\n';
    start = piece - (end - head);
    std::copy(head, end, start);
    piece[*n] = '\r';
    piece[*n + 1] = '\n';
    length = size_t(piece + *n + 2 - start);
  }
  asio::async_write(stream_, asio::buffer(start, length),
                    [self = Self(), body](beast::error_code ec, size_t) {
                      if (ec) return self->AfterWrite(ec, true);
                      self->StreamUntilDone(body);
                    });
}

// One piece at a time, so a body of any size holds one 64 kB buffer.
template <typename Stream>
void Connection<Stream>::StreamLoop(std::shared_ptr<BodyStream> body) {
  size_t want = static_cast<size_t>(std::min<uint64_t>(body->left, body->buffer.size()));
  Result<size_t> n = body->produce(std::span<char>(body->buffer.data(), want));
  if (!n.ok() || *n == 0 || *n > want) {
    std::cerr << "ringo: response to " << request_.path << " cut short: "
              << (n.ok() ? "the body ended early" : n.status().message()) << std::endl;
    return AfterWrite(beast::error_code(EIO, beast::system_category()), true);
  }
  body->left -= *n;
  Tcp().expires_after(server_->options().request_timeout);
  asio::async_write(stream_, asio::buffer(body->buffer.data(), *n),
                    [self = Self(), body](beast::error_code ec, size_t) {
                      if (ec || body->left == 0) return self->AfterWrite(ec, !self->keep_alive_);
                      self->StreamLoop(body);
                    });
}

// sendfile(2) cannot encrypt: over TLS the file is read in 256 kB pieces and written through the
// TLS stream, one piece in flight at a time.
template <typename Stream>
void Connection<Stream>::CopyFileLoop() {
  if (!file_buffer_) file_buffer_ = std::make_unique<std::vector<char>>(256 * 1024);
  size_t want = static_cast<size_t>(std::min<uint64_t>(file_remaining_, file_buffer_->size()));
  ssize_t n;
  do {
    n = ::pread(file_fd_, file_buffer_->data(), want, static_cast<off_t>(file_offset_));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    // The file shrank or cannot be read: the response cannot be completed.
    return AfterWrite(beast::error_code(n == 0 ? EIO : errno, beast::system_category()), true);
  }
  Tcp().expires_after(server_->options().request_timeout);
  asio::async_write(stream_, asio::buffer(file_buffer_->data(), static_cast<size_t>(n)),
                    [self = Self()](beast::error_code ec, size_t written) {
                      if (ec) return self->AfterWrite(ec, true);
                      self->file_offset_ += written;
                      self->file_remaining_ -= written;
                      if (self->file_remaining_ > 0) return self->CopyFileLoop();
                      self->AfterWrite({}, !self->keep_alive_);
                    });
}

template <typename Stream>
void Connection<Stream>::AfterWrite(beast::error_code ec, bool close) {
  if (file_fd_ >= 0) {
    ::close(file_fd_);
    file_fd_ = -1;
  }
  response_holder_.reset();
  file_buffer_.reset();
  // What the answer held goes now; the header's room stays for the next one.
  out_.body = std::string();
  out_.headers.clear();
  out_.header_lines.reset();
  if (ec || close) {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!ec) return Linger();
    return Finish(status_);
  }
  ReadHeader();
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// response before the client reads it (a client still sending a refused body). So the rest of
// the input is read into a small scratch buffer and dropped, for a short while, then the socket
// closes. Memory held: the scratch buffer, whatever the client sends.
template <typename Stream>
void Connection<Stream>::Linger() {
  if (!scratch_) {
    scratch_ = std::make_unique<std::array<char, 16384>>();
    Tcp().expires_after(std::chrono::seconds(2));
  }
  stream_.async_read_some(asio::buffer(*scratch_), [self = Self()](
                                                       beast::error_code ec, size_t) {
    if (ec) return self->Finish(self->status_);
    self->Linger();
  });
}

template <typename Stream>
void Connection<Stream>::Finish(unsigned) {
  if (!request_.body_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(request_.body_file, ec);
  }
  beast::error_code ignored;
  Tcp().socket().close(ignored);
  if (!finished_once_.exchange(true)) server_->ConnectionClosed();
}

template class Connection<PlainStream>;
template class Connection<TlsStream>;

}  // namespace ringo::http
