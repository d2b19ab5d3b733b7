// Tests of the HTTP layer's pure parts (query parsing, routing, Range) and of a live server.
#include "http/http.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "common/util.h"

// Every allocation call of this test binary is counted (glibc's allocator does the work):
// Beast and Asio allocate through operator new and aligned_alloc alike. Not under the
// sanitizers, whose allocator must see every allocation (the count test skips itself there).
namespace {
std::atomic<uint64_t> g_allocations{0};
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCountsAllocations = false;
#else
constexpr bool kCountsAllocations = true;
#endif
}  // namespace
#if !defined(__SANITIZE_ADDRESS__)
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* malloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t k, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(k, n);
}
void* realloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  void* p = memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"
#endif

namespace ringo::http {
namespace {

namespace fs = std::filesystem;

TEST(ParseQueryTest, DecodesAndKeepsRepeats) {
  auto q = ParseQuery("run_id=a&run_id=b&path=x%2Fy&name=a+b&empty=");
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>("run_id", "a")));
  EXPECT_EQ((*q)[1].second, "b");
  EXPECT_EQ((*q)[2].second, "x/y");
  EXPECT_EQ((*q)[3].second, "a b");
  EXPECT_EQ((*q)[4].second, "");
}

TEST(ParseQueryTest, RejectsMalformedEscapes) {
  EXPECT_FALSE(ParseQuery("a=%zz").has_value());
  EXPECT_FALSE(ParseQuery("a=%4").has_value());
}

TEST(RouterTest, ExactPrefixAndMethodMatching) {
  Router r;
  r.Add(Method::kGet, "/a", Access::kRead, [](Request&, Responder) {});
  r.AddPrefix(
      Method::kPut, "/files/", Access::kWrite, [](Request&, Responder) {}, true);
  r.AddPrefix(Method::kGet, "/files/", Access::kRead, [](Request&, Responder) {});
  auto m = r.Find(Method::kGet, "/a");
  EXPECT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/a");
  auto head = r.Find(Method::kHead, "/a");
  EXPECT_NE(head.handler, nullptr) << "HEAD is served by GET handlers";
  auto put = r.Find(Method::kPut, "/files/x/y.txt");
  ASSERT_NE(put.handler, nullptr);
  EXPECT_TRUE(put.stream_body);
  EXPECT_EQ(put.access, Access::kWrite);
  EXPECT_EQ(put.suffix, "x/y.txt");
  auto wrong = r.Find(Method::kPost, "/a");
  EXPECT_EQ(wrong.handler, nullptr);
  EXPECT_TRUE(wrong.path_known);
  auto none = r.Find(Method::kGet, "/nope");
  EXPECT_EQ(none.handler, nullptr);
  EXPECT_FALSE(none.path_known);
  EXPECT_EQ(none.access, Access::kAnyCaller);
  EXPECT_EQ(r.Find(Method::kPost, "/nope").access, Access::kWrite);
  EXPECT_EQ(r.Find(Method::kDelete, "/a").access, Access::kWrite);
}

// An exact route answers its own path only: trailing segments, a trailing slash or a longer
// name never reach its handler (a write route must not answer ".../upload/search").
TEST(RouterTest, PathParametersMatchOneSegmentEach) {
  Router r;
  r.Add(Method::kGet, "/c/{collection}/channels/{channel}/manifest", Access::kDevice,
        [](Request&, Responder) {});
  r.Add(Method::kGet, "/c/special/channels/x/manifest", Access::kRead, [](Request&, Responder) {});
  auto m = r.Find(Method::kGet, "/c/app%20one/channels/release/manifest");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.access, Access::kDevice);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>("collection", "app%20one")));
  EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>("channel", "release")));
  EXPECT_EQ(r.Find(Method::kGet, "/c/special/channels/x/manifest").access, Access::kRead)
      << "exact paths win";
  for (std::string_view p : {"/c//channels/release/manifest", "/c/a/channels/release/manifest/x",
                             "/c/a/b/channels/release/manifest", "/c/a/channels/release"}) {
    EXPECT_EQ(r.Find(Method::kGet, p).handler, nullptr) << p;
  }
  auto wrong = r.Find(Method::kPost, "/c/a/channels/b/manifest");
  EXPECT_EQ(wrong.handler, nullptr);
  EXPECT_TRUE(wrong.path_known);
  Request req;
  req.path_params = m.params;
  EXPECT_EQ(req.PathParam("channel"), "release");
  EXPECT_EQ(req.PathParam("nope"), "");
}

TEST(RouterTest, ExactRoutesNeverMatchLongerPaths) {
  Router r;
  r.Add(Method::kPost, "/x/upload", Access::kWrite, [](Request&, Responder) {}, true);
  for (std::string_view p : {"/x/upload/search", "/x/upload/", "/x/uploads", "/x/upload/x"}) {
    EXPECT_EQ(r.Find(Method::kPost, p).handler, nullptr) << p;
  }
  auto m = r.Find(Method::kPost, "/x/upload");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_TRUE(m.stream_body);
  EXPECT_EQ(m.access, Access::kWrite);
  EXPECT_EQ(r.Routes().size(), 1u);
}

class FileResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("ringo-http-" + NewId());
    std::ofstream(path_) << "0123456789";
  }
  void TearDown() override { fs::remove(path_); }
  Response Get(const std::string& range) {
    Request req;
    if (!range.empty()) req.headers.emplace_back("range", range);
    return FileResponse(req, path_.string(), "text/plain");
  }
  fs::path path_;
};

TEST_F(FileResponseTest, RangeForms) {
  struct Case {
    std::string range;
    unsigned status;
    uint64_t offset, length;
  } cases[] = {
      {"", 200, 0, 10},           {"bytes=2-4", 206, 2, 3},
      {"bytes=7-", 206, 7, 3},    {"bytes=-3", 206, 7, 3},
      {"bytes=5-100", 206, 5, 5}, {"bytes=-100", 206, 0, 10},
      {"bytes=10-", 416, 0, 0},   {"bytes=4-2", 200, 0, 10},
      {"items=1-2", 200, 0, 10},  {"bytes=1-2,4-5", 200, 0, 10},
  };
  for (const Case& c : cases) {
    Response r = Get(c.range);
    EXPECT_EQ(r.status, c.status) << c.range;
    if (c.status != 416) {
      EXPECT_EQ(r.file_offset, c.offset) << c.range;
      EXPECT_EQ(r.file_length, c.length) << c.range;
    }
  }
}

TEST_F(FileResponseTest, EmptyFileIgnoresRangeWith200) {
  // Most steps leave stderr.txt empty; a reader asking for its first or last bytes gets it whole.
  std::ofstream(path_, std::ios::trunc).flush();
  for (const char* range : {"bytes=0-262143", "bytes=-4096", "bytes=0-", "bytes=-0"}) {
    Response r = Get(range);
    EXPECT_EQ(r.status, 200u) << range;
    EXPECT_EQ(r.file_offset, 0u) << range;
    EXPECT_EQ(r.file_length, 0u) << range;
  }
}

TEST_F(FileResponseTest, MissingFileIs404) {
  Request req;
  EXPECT_EQ(FileResponse(req, path_.string() + ".missing", "x").status, 404u);
}

// A raw exchange with a live server on an ephemeral loopback port.
std::string Exchange(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  (void)::write(fd, request.data(), request.size());
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

// A keep-alive client that allocates nothing: a preformatted request, a fixed buffer, each
// answer read up to the end of its header (the answers here have no body).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  // The answer's header, or empty on a broken connection.
  std::string_view RoundTrip(std::string_view request) {
    if (!ok_ || ::write(fd_, request.data(), request.size()) != ssize_t(request.size())) return {};
    size_t got = 0;
    while (got < sizeof buf_) {
      ssize_t n = ::read(fd_, buf_ + got, sizeof buf_ - got);
      if (n <= 0) return {};
      got += size_t(n);
      std::string_view seen(buf_, got);
      if (seen.find("\r\n\r\n") != std::string_view::npos) return seen;
    }
    return {};
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  char buf_[4096];
};

// The device path's shape (a route with {name} segments, a guard naming the caller, a 304 with
// shared header lines), answered over keep-alive: past the first requests the server allocates
// only what Asio's operations need (4 per request now; a responder state, a copied request,
// route pattern or Beast response would each add one or several).
TEST(ServerTest, KeepAlive304AllocatesAlmostNothing) {
  if (!kCountsAllocations) GTEST_SKIP() << "allocations are not counted under the sanitizers";
  auto router = std::make_shared<Router>();
  auto lines = std::make_shared<const std::string>(
      "ETag: \"0123456789abcdef0123456789abcdef\"\r\nCache-Control: no-cache\r\n");
  router->Add(Method::kGet, "/c/{collection}/m", Access::kDevice,
              [lines](Request& req, Responder res) {
                Response r;
                bool asked = !req.Header("if-none-match").empty();
                r.status = asked && !req.PathParam("collection").empty() ? 304 : 500;
                r.content_type = {};
                r.header_lines = lines;
                res.Send(std::move(r));
              });
  router->SetGuard([](Request& req, Access) -> std::optional<Response> {
    req.principal.assign("token:a-device-fleet");
    return std::nullopt;
  });
  ServerOptions opt;
  opt.port = 0;
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawClient client((*server)->port());
  const std::string request =
      "GET /c/app/m?device_id=d12345678901234567890&device_class=iPhone15,2 HTTP/1.1\r\n"
      "Host: 127.0.0.1:5000\r\nAuthorization: Bearer rg_0123456789abcdefghijklmnopqrstuvwx\r\n"
      "If-None-Match: \"0123456789abcdef0123456789abcdef\"\r\n\r\n";
  std::string first(client.RoundTrip(request));
  EXPECT_EQ(first,
            "HTTP/1.1 304 Not Modified\r\nServer: ringo\r\n"
            "ETag: \"0123456789abcdef0123456789abcdef\"\r\nCache-Control: no-cache\r\n"
            "Content-Length: 0\r\n\r\n");
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(client.RoundTrip(request).empty());
  constexpr int kRequests = 2000;
  uint64_t before = g_allocations.load();
  for (int i = 0; i < kRequests; ++i) {
    if (client.RoundTrip(request).empty()) break;
  }
  double per_request = double(g_allocations.load() - before) / kRequests;
  (*server)->Stop();
  EXPECT_LE(per_request, 4.5);
  std::cout << "allocations per keep-alive 304: " << per_request << std::endl;
}

// A connection reuses its responder state only when nothing else holds it: a handler that drops
// its responder unanswered still gets the client a 500, and one that answers later from another
// thread answers its own request, whatever the connection's next requests do.
TEST(ServerTest, ResponderStatesAnswerEachRequestOnce) {
  auto router = std::make_shared<Router>();
  router->Add(Method::kGet, "/sync", Access::kRead, [](Request&, Responder res) {
    Response r;
    r.body = "sync";
    res.Send(std::move(r));
  });
  router->Add(Method::kGet, "/drop", Access::kRead, [](Request&, Responder) {});
  std::vector<std::thread> later;
  router->Add(Method::kGet, "/later", Access::kRead, [&later](Request&, Responder res) {
    later.emplace_back([res] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Response r;
      r.body = "later";
      res.Send(std::move(r));
    });
  });
  ServerOptions opt;
  opt.port = 0;
  opt.threads = 1;
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto req = [](const char* path) {
    return "GET /" + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  };
  std::string out = Exchange((*server)->port(), req("sync") + req("drop") + req("sync") +
                                                    req("later") + req("drop") + req("later") +
                                                    req("sync"));
  for (auto& t : later) t.join();
  (*server)->Stop();
  std::vector<std::string> answers;
  for (size_t at = 0; (at = out.find("HTTP/1.1 ", at)) != std::string::npos; at += 9) {
    size_t body = out.find("\r\n\r\n", at);
    size_t next = out.find("HTTP/1.1 ", at + 9);
    answers.push_back(out.substr(at + 9, 3) + " " +
                      out.substr(body + 4, (next == std::string::npos ? out.size() : next) - body - 4));
  }
  ASSERT_EQ(answers.size(), 7u) << out;
  EXPECT_EQ(answers[0], "200 sync");
  EXPECT_EQ(answers[1].substr(0, 3), "500");
  EXPECT_NE(answers[1].find("the handler produced no response"), std::string::npos);
  EXPECT_EQ(answers[2], "200 sync");
  EXPECT_EQ(answers[3], "200 later");
  EXPECT_EQ(answers[4].substr(0, 3), "500");
  EXPECT_EQ(answers[5], "200 later");
  EXPECT_EQ(answers[6], "200 sync");
}

TEST(ServerTest, ServesPipelinedRequestsAndEnforcesLimits) {
  auto router = std::make_shared<Router>();
  router->Add(Method::kPost, "/echo", Access::kWrite, [](Request& req, Responder res) {
    Response r;
    r.content_type = "text/plain";
    r.body = req.body;
    res.Send(std::move(r));
  });
  router->Add(Method::kGet, "/throw", Access::kRead,
              [](Request&, Responder) -> void { throw std::runtime_error("boom"); });
  router->Add(Method::kGet, "/drop", Access::kRead, [](Request&, Responder) {});
  ServerOptions opt;
  opt.port = 0;
  opt.body_limit = 64;
  opt.upload_dir = (fs::temp_directory_path() / ("ringo-up-" + NewId())).string();
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  uint16_t port = (*server)->port();

  std::string two = Exchange(port,
                             "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                             "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ndef");
  EXPECT_NE(two.find("abc"), std::string::npos);
  EXPECT_NE(two.find("def"), std::string::npos);

  std::string big(100, 'x');
  std::string too_big =
      Exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + big);
  EXPECT_NE(too_big.find("413"), std::string::npos) << too_big;

  std::string thrown = Exchange(port, "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(thrown.find("500"), std::string::npos);
  EXPECT_NE(thrown.find("INTERNAL_ERROR"), std::string::npos);

  std::string dropped = Exchange(port, "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(dropped.find("500"), std::string::npos);

  std::string unknown = Exchange(port, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(unknown.find("404"), std::string::npos);
  std::string wrong_method = Exchange(port, "DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(wrong_method.find("405"), std::string::npos);
  std::string garbage = Exchange(port, "NOT HTTP\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos);

  std::string head = Exchange(port, "HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.find("ENDPOINT_NOT_FOUND"), std::string::npos) << "HEAD carries no body";

  (*server)->Stop();
  fs::remove_all(opt.upload_dir);
}

// A server for `router` on an ephemeral port, its upload directory under the temporary
// directory; stopped, and the directory removed, when it goes.
class TestServer {
 public:
  explicit TestServer(std::shared_ptr<Router> router) {
    opt_.port = 0;
    opt_.upload_dir = (fs::temp_directory_path() / ("ringo-up-" + NewId())).string();
    auto server = StartServer(opt_, std::move(router));
    if (server.ok()) {
      server_ = std::move(*server);
    } else {
      error_ = server.status().ToString();
    }
  }
  ~TestServer() {
    if (server_) server_->Stop();
    fs::remove_all(opt_.upload_dir);
  }
  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return server_->port(); }

 private:
  ServerOptions opt_;
  std::unique_ptr<Server> server_;
  std::string error_;
};

// A produced body goes out whole, piece after piece, with its declared length and keep-alive; a
// source that fails cuts the connection rather than sending a short body as complete.
TEST(ServerTest, StreamsProducedBodiesAndCutsFailedOnes) {
  auto router = std::make_shared<Router>();
  constexpr uint64_t kLength = 200'000;  // several 64 kB pieces
  router->Add(Method::kGet, "/count", Access::kRead, [](Request&, Responder res) {
    Response r;
    r.content_type = "text/plain";
    r.stream_length = kLength;
    auto next = std::make_shared<uint64_t>(0);
    r.stream = [next](std::span<char> out) -> Result<size_t> {
      for (char& c : out) c = static_cast<char>('a' + (*next)++ % 26);
      return out.size();
    };
    res.Send(std::move(r));
  });
  router->Add(Method::kGet, "/broken", Access::kRead, [](Request&, Responder res) {
    Response r;
    r.stream_length = kLength;
    r.stream = [](std::span<char>) -> Result<size_t> { return Internal("disk gone"); };
    res.Send(std::move(r));
  });
  TestServer server(router);
  ASSERT_TRUE(server.ok()) << server.error();
  uint16_t port = server.port();

  std::string two = Exchange(port,
                             "GET /count HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t first = two.find("\r\n\r\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(two.find("Content-Length: 200000"), std::string::npos);
  std::string body = two.substr(first + 4, kLength);
  for (uint64_t i = 0; i < kLength; i += 9973) {
    ASSERT_EQ(body[i], static_cast<char>('a' + i % 26)) << i;
  }
  EXPECT_NE(two.find("HTTP/1.1 200", first + 4 + kLength), std::string::npos)
      << "the connection stays open for the next request";

  std::string head = Exchange(port, "HEAD /count HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 200000"), std::string::npos);
  EXPECT_EQ(head.find("abc"), std::string::npos) << "HEAD carries no body";

  std::string broken = Exchange(port, "GET /broken HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t header_end = broken.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_EQ(broken.size(), header_end + 4) << "no body bytes after a failed source";

}

// The body of a chunked answer starting at `from`, or nullopt when its framing is broken or the
// last chunk is missing; `*end` is where the answer ends.
std::optional<std::string> Unchunk(const std::string& text, size_t from, size_t* end) {
  std::string body;
  for (;;) {
    size_t line_end = text.find("\r\n", from);
    if (line_end == std::string::npos) return std::nullopt;
    size_t length = 0;
    auto [ptr, ec] = std::from_chars(text.data() + from, text.data() + line_end, length, 16);
    if (ec != std::errc() || ptr != text.data() + line_end) return std::nullopt;
    from = line_end + 2;
    if (length == 0) {
      if (text.compare(from, 2, "\r\n") != 0) return std::nullopt;
      *end = from + 2;
      return body;
    }
    if (from + length + 2 > text.size() || text.compare(from + length, 2, "\r\n") != 0) {
      return std::nullopt;
    }
    body.append(text, from, length);
    from += length + 2;
  }
}

// A body whose length is not known beforehand goes out in chunks to an HTTP/1.1 client (and the
// connection stays open), until the connection closes to an HTTP/1.0 one; a source that fails
// midway leaves the chunked body without its last chunk, so no client takes it as complete.
TEST(ServerTest, StreamsBodiesOfUnknownLength) {
  auto router = std::make_shared<Router>();
  constexpr size_t kLength = 200'000;
  auto expected = [](size_t i) { return static_cast<char>('a' + (i * 7) % 26); };
  auto add = [&](const char* path, bool fail) {
    router->Add(Method::kGet, path, Access::kRead, [=](Request&, Responder res) {
      Response r;
      r.stream_length = kLengthUnknown;
      auto next = std::make_shared<size_t>(0);
      r.stream = [next, fail, expected](std::span<char> out) -> Result<size_t> {
        if (fail && *next > kLength / 2) return Internal("disk gone");
        size_t n = std::min({out.size(), kLength - *next, size_t(7777)});  // uneven pieces
        for (size_t i = 0; i < n; ++i) out[i] = expected((*next)++);
        return n;
      };
      res.Send(std::move(r));
    });
  };
  add("/until", false);
  add("/until-broken", true);
  TestServer server(router);
  ASSERT_TRUE(server.ok()) << server.error();
  uint16_t port = server.port();
  auto check_body = [&](const std::string& body) {
    ASSERT_EQ(body.size(), kLength);
    for (size_t i = 0; i < kLength; ++i) ASSERT_EQ(body[i], expected(i)) << i;
  };

  std::string two = Exchange(port,
                             "GET /until HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /until HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t header_end = two.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_NE(two.substr(0, header_end).find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(two.substr(0, header_end).find("Content-Length"), std::string::npos);
  size_t end = 0;
  std::optional<std::string> body = Unchunk(two, header_end + 4, &end);
  ASSERT_TRUE(body.has_value()) << "a well-formed chunked body with its last chunk";
  check_body(*body);
  EXPECT_EQ(two.compare(end, 15, "HTTP/1.1 200 OK"), 0) << "the connection stays open";

  std::string old = Exchange(port,
                             "GET /until HTTP/1.0\r\n\r\n"
                             "GET /until HTTP/1.1\r\nHost: x\r\n\r\n");
  header_end = old.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_EQ(old.substr(0, header_end).find("chunked"), std::string::npos);
  check_body(old.substr(header_end + 4));  // the body ends where the connection does

  std::string head = Exchange(port, "HEAD /until HTTP/1.1\r\nHost: x\r\n\r\n");
  header_end = head.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_EQ(head.size(), header_end + 4) << "HEAD carries no body";

  std::string broken = Exchange(port, "GET /until-broken HTTP/1.1\r\nHost: x\r\n\r\n");
  header_end = broken.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_FALSE(Unchunk(broken, header_end + 4, &end).has_value());
  EXPECT_GT(broken.size(), header_end + 4 + kLength / 2) << "what was made went out";

}

// The guard sees every request (unknown paths with kAnyCaller) before any body is read, and an
// unknown path is answered without reading its body.
TEST(ServerTest, GuardRunsBeforeTheBodyForKnownAndUnknownPaths) {
  auto router = std::make_shared<Router>();
  std::atomic<int> ran{0};
  router->Add(Method::kPost, "/w", Access::kWrite, [&ran](Request&, Responder res) {
    ++ran;
    res.Send(Response{});
  });
  std::vector<std::pair<std::string, Access>> seen;
  std::mutex mu;
  router->SetGuard([&](Request& req, Access a) -> std::optional<Response> {
    std::lock_guard lock(mu);
    seen.emplace_back(req.path, a);
    if (req.Header("authorization") != "ok") return JsonError(401, "UNAUTHENTICATED", "no");
    req.principal = "tester";
    return std::nullopt;
  });
  ServerOptions opt;
  opt.port = 0;
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok());
  uint16_t port = (*server)->port();
  // Announces 1 MB but sends none of it: the answers must come without waiting for it.
  std::string denied = Exchange(port, "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  EXPECT_NE(denied.find("401"), std::string::npos) << denied;
  std::string unknown_denied =
      Exchange(port, "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  EXPECT_NE(unknown_denied.find("401"), std::string::npos) << unknown_denied;
  std::string unknown = Exchange(
      port, "POST /nope HTTP/1.1\r\nHost: x\r\nAuthorization: ok\r\nContent-Length: 1048576\r\n\r\n");
  EXPECT_NE(unknown.find("404"), std::string::npos) << unknown;
  std::string ok = Exchange(port, "POST /w HTTP/1.1\r\nHost: x\r\nAuthorization: ok\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(ok.find("200"), std::string::npos) << ok;
  EXPECT_EQ(ran.load(), 1);
  (*server)->Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].second, Access::kWrite);
  EXPECT_EQ(seen[1].second, Access::kWrite);
}

// Bodies buffered at once are bounded across connections: past the bound a request gets 503.
TEST(ServerTest, BoundsBodiesBufferedAcrossConnections) {
  auto router = std::make_shared<Router>();
  router->Add(Method::kPost, "/w", Access::kWrite, [](Request&, Responder res) { res.Send(Response{}); });
  ServerOptions opt;
  opt.port = 0;
  opt.body_limit = 1000;
  opt.total_body_limit = 1500;
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok());
  uint16_t port = (*server)->port();
  // A first connection announces 1000 bytes and sends only part, holding its reservation.
  int held = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string partial = "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc";
  ASSERT_EQ(::write(held, partial.data(), partial.size()), ssize_t(partial.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string busy = Exchange(port, "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                                        std::string(1000, 'x'));
  EXPECT_NE(busy.find("503"), std::string::npos) << busy;
  EXPECT_NE(busy.find("Retry-After"), std::string::npos) << busy;
  ::close(held);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string fine = Exchange(port, "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                                        std::string(1000, 'x'));
  EXPECT_NE(fine.find("200"), std::string::npos) << fine;
  (*server)->Stop();
}

// A request without Content-Length or chunked encoding has no body and reserves nothing, so a
// server whose body budget is taken still answers it.
TEST(ServerTest, BodilessRequestsNeedNoBodyBudget) {
  auto router = std::make_shared<Router>();
  router->Add(Method::kGet, "/g", Access::kPublic, [](Request&, Responder res) {
    res.Send(Response{});
  });
  ServerOptions opt;
  opt.port = 0;
  opt.body_limit = 1000;
  opt.total_body_limit = 999;  // less than one buffered body
  auto server = StartServer(opt, router);
  ASSERT_TRUE(server.ok());
  std::string got = Exchange((*server)->port(), "GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(got.find("200"), std::string::npos) << got;
  (*server)->Stop();
}

TEST(ServerTest, TlsNeedsBothFilesAndReadableOnes) {
  auto router = std::make_shared<Router>();
  struct Case {
    const char* cert;
    const char* key;
    const char* says;
  } cases[] = {
      {"/nonexistent/cert.pem", "", "both"},
      {"", "/nonexistent/key.pem", "both"},
      {"/nonexistent/cert.pem", "/nonexistent/key.pem", "/nonexistent/cert.pem"},
  };
  for (const Case& c : cases) {
    ServerOptions opt;
    opt.port = 0;
    opt.tls_cert_file = c.cert;
    opt.tls_key_file = c.key;
    auto server = StartServer(opt, router);
    ASSERT_FALSE(server.ok()) << c.cert << " " << c.key;
    EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
    EXPECT_NE(server.status().message().find(c.says), std::string::npos)
        << server.status().message();
  }
  ServerOptions plain;
  plain.port = 0;
  auto server = StartServer(plain, router);
  ASSERT_TRUE(server.ok());
  EXPECT_FALSE((*server)->tls());
  EXPECT_EQ((*server)->ReloadTls().code(), Code::kFailedPrecondition);
  (*server)->Stop();
}

}  // namespace
}  // namespace ringo::http
