// S3 repository: the signature against AWS's published example, the XML and URI helpers, and
// the whole repository against a real S3 server (versitygw, built by scripts/setup).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "artifacts/artifacts.h"
#include "artifacts/s3_repository.h"
#include "artifacts/s3_sign.h"
#include "artifacts/s3_transport.h"
#include "common/util.h"

namespace ringo::artifacts {
namespace {

namespace fs = std::filesystem;

TEST(S3SignTest, MatchesAwsExampleOfGetObjectWithRange) {
  // The "GET Object" example of AWS's Signature Version 4 documentation for S3.
  SignRequest r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  r.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  r.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  EXPECT_EQ(Authorization(r),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  r.path = "/test.txu";
  EXPECT_EQ(Authorization(r).find("f0e8bdb87c9644"), std::string::npos);
}

TEST(S3SignTest, MatchesAwsExampleOfPresignedGet) {
  // The presigned URL example of the same documentation ("query parameters").
  SignRequest r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  r.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  r.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  EXPECT_EQ(PresignedQuery(r, 86400, ""),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&"
            "X-Amz-SignedHeaders=host");
  EXPECT_EQ(PresignedQuery(r, 3600, "").find("aeeed9bbccd4"), std::string::npos);
}

TEST(S3SignTest, EncodesAndSortsTheQuery) {
  EXPECT_EQ(PercentEncode("a b/c~d_e.f-g+h", true), "a%20b/c~d_e.f-g%2Bh");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(PercentEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(CanonicalQuery({{"prefix", "1/r x/"}, {"list-type", "2"}, {"uploads", ""}}),
            "list-type=2&prefix=1%2Fr%20x%2F&uploads=");
}

TEST(S3XmlTest, ReadsElementsAndEntities) {
  std::string xml =
      "<ListBucketResult><Contents><Key>a&amp;b &lt;c&gt;</Key><Size>3</Size></Contents>"
      "<Contents><Key>caf&#233; &#x41;</Key><Size>10</Size></Contents>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>";
  auto contents = XmlElements(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(XmlText(contents[0], "Key"), "a&b <c>");
  EXPECT_EQ(XmlText(contents[1], "Key"), "caf\xc3\xa9 A");
  EXPECT_EQ(XmlText(contents[1], "Size"), "10");
  EXPECT_EQ(XmlText(xml, "Missing"), "");
  EXPECT_TRUE(XmlElements("<a>unclosed", "a").empty());
}

TEST(S3EndpointTest, ParsesHostsAndPorts) {
  struct Case {
    const char* url;
    bool ok;
    bool tls;
    const char* host;
    const char* port;
  } cases[] = {
      {"http://127.0.0.1:9000", true, false, "127.0.0.1", "9000"},
      {"https://s3.eu-west-1.amazonaws.com/", true, true, "s3.eu-west-1.amazonaws.com", "443"},
      {"http://minio", true, false, "minio", "80"},
      {"http://[::1]:9000", true, false, "::1", "9000"},
      {"ftp://host", false, false, "", ""},
      {"http://host/path", false, false, "", ""},
      {"http://user@host", false, false, "", ""},
      {"http://host:port", false, false, "", ""},
      {"http://", false, false, "", ""},
  };
  for (const auto& c : cases) {
    auto e = ParseEndpoint(c.url);
    EXPECT_EQ(e.ok(), c.ok) << c.url;
    if (!e.ok()) {
      EXPECT_EQ(e.status().code(), Code::kInvalidArgument) << c.url;
      continue;
    }
    EXPECT_EQ(e->tls, c.tls) << c.url;
    EXPECT_EQ(e->host, c.host) << c.url;
    EXPECT_EQ(e->port, c.port) << c.url;
  }
}

TEST(S3OptionsTest, NeedsBucketAndCredentials) {
  unsetenv("AWS_ACCESS_KEY_ID");
  auto none = S3OptionsFrom("s3://bucket/p", "http://127.0.0.1:1", "/tmp/c");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  setenv("AWS_ACCESS_KEY_ID", "k", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
  setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
  EXPECT_FALSE(S3OptionsFrom("s3:///p", "", "/tmp/c").ok());
  auto o = S3OptionsFrom("s3://bucket//runs/x/", "", "/tmp/c");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->bucket, "bucket");
  EXPECT_EQ(o->prefix, "runs/x");
  EXPECT_EQ(o->region, "eu-central-1");
  EXPECT_EQ(o->endpoint_url, "https://s3.eu-central-1.amazonaws.com");
  unsetenv("AWS_DEFAULT_REGION");
  EXPECT_FALSE(OpenRepository("gs://bucket", "", "/tmp/c").ok());
}

// ---- against a real S3 server ----

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

fs::path GatewayBinary() {
  if (const char* p = std::getenv("RINGO_VERSITYGW"); p && *p) return p;
  return fs::path(RINGO_SOURCE_DIR) / ".tools/bin/versitygw";
}

// versitygw serving <dir>/gw, bucket "ringo", on 127.0.0.1 and a free port.
class S3RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-s3-" + NewId());
    fs::create_directories(dir_ / "gw" / "ringo");
    fs::path bin = GatewayBinary();
    ASSERT_TRUE(fs::exists(bin)) << bin << " is missing: scripts/setup builds it";
    port_ = FreePort();
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {"versitygw", "--port", listen, "--access", "testkey",
                                     "--secret", "testsecret123"};
    if (UseTls()) {
      // A certificate of its own for 127.0.0.1, trusted through AWS_CA_BUNDLE as a team's
      // private CA would be.
      fs::path cert = dir_ / "cert.pem", key = dir_ / "key.pem";
      std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                        "-addext subjectAltName=IP:127.0.0.1 -keyout '" + key.string() +
                        "' -out '" + cert.string() + "' >/dev/null 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      args.insert(args.end(), {"--cert", cert.string(), "--key", key.string()});
      setenv("AWS_CA_BUNDLE", cert.c_str(), 1);
    }
    args.insert(args.end(), {"posix", "--data-integrity-etag", (dir_ / "gw").string()});
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = (dir_ / "gw.log").string();
      freopen(log.c_str(), "w", stdout);
      freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    setenv("AWS_ACCESS_KEY_ID", "testkey", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "testsecret123", 1);
    repo_ = Open("s3://ringo/team/artifacts");
    for (int i = 0; i < 200; ++i) {
      if (repo_->Init().ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "versitygw did not answer on " << listen;
  }
  void TearDown() override {
    unsetenv("AWS_CA_BUNDLE");
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  virtual bool UseTls() const { return false; }
  std::string EndpointUrl() const {
    return (UseTls() ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  std::unique_ptr<Repository> Open(const std::string& uri) {
    auto r = OpenRepository(uri, EndpointUrl(), dir_ / "cache");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : nullptr;
  }
  // A repository on this server whose uploads go in S3's smallest parts (5 MB); null (with a
  // failure recorded) when it cannot be set up.
  std::unique_ptr<S3Repository> SmallPartRepository(const std::string& uri, const fs::path& cache) {
    auto opts = S3OptionsFrom(uri, EndpointUrl(), cache);
    EXPECT_TRUE(opts.ok()) << opts.status().message();
    if (!opts.ok()) return nullptr;
    opts->part_size = 5 << 20;
    Endpoint endpoint = *ParseEndpoint(opts->endpoint_url);
    endpoint.ca_bundle = opts->ca_bundle;
    auto transport = Transport::Create(endpoint);
    EXPECT_TRUE(transport.ok()) << transport.status().message();
    if (!transport.ok()) return nullptr;
    auto repo = std::make_unique<S3Repository>(*opts, std::move(*transport));
    Status init = repo->Init();
    EXPECT_TRUE(init.ok()) << init.message();
    return init.ok() ? std::move(repo) : nullptr;
  }
  // At least `bytes` of decimal numbers, each followed by a comma.
  static std::string Numbers(size_t bytes) {
    std::string data;
    for (int i = 0; data.size() < bytes; ++i) data += std::to_string(i) + ",";
    return data;
  }
  fs::path Temp(const std::string& data) {
    fs::path p = dir_ / ("upload-" + NewId());
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<Repository> repo_;
};

TEST_F(S3RepositoryTest, PutListResolveDelete) {
  ASSERT_TRUE(repo_->Put("1/run/artifacts/notes.txt", "hello").ok());
  fs::path up = Temp("model bytes");
  ASSERT_TRUE(repo_->PutFile("1/run/artifacts/model/m.mlmodel", up).ok());
  EXPECT_FALSE(fs::exists(up));  // consumed
  // The object is under the prefix, in the bucket's directory.
  EXPECT_TRUE(fs::exists(dir_ / "gw/ringo/team/artifacts/1/run/artifacts/notes.txt"));

  bool is_file = true;
  auto top = repo_->List("1/run/artifacts", &is_file);
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_FALSE(is_file);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].path, "1/run/artifacts/model");
  EXPECT_TRUE((*top)[0].is_dir);
  EXPECT_EQ((*top)[1].path, "1/run/artifacts/notes.txt");
  EXPECT_EQ((*top)[1].file_size, 5);
  auto file = repo_->List("1/run/artifacts/notes.txt", &is_file);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(file->empty());
  EXPECT_TRUE(is_file);
  auto missing = repo_->List("nothing/here", &is_file);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  EXPECT_FALSE(is_file);

  auto local = repo_->Resolve("1/run/artifacts/notes.txt");
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(Slurp(*local), "hello");
  auto tree = repo_->Resolve("1/run/artifacts/model");
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(Slurp(*tree / "m.mlmodel"), "model bytes");
  auto absent = repo_->Resolve("1/run/artifacts/absent.bin");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(fs::exists(*absent));

  ASSERT_TRUE(repo_->Delete("1/run/artifacts/model").ok());
  EXPECT_TRUE(repo_->List("1/run/artifacts/model")->empty());
  EXPECT_EQ(repo_->Delete("1/run/artifacts/model").code(), Code::kNotFound);
  EXPECT_EQ(repo_->Delete("").code(), Code::kInvalidArgument);
  EXPECT_EQ(repo_->Put("../escape", "x").code(), Code::kInvalidArgument);
}

TEST_F(S3RepositoryTest, ChangedObjectIsFetchedAgain) {
  ASSERT_TRUE(repo_->Put("a/b.txt", "first").ok());
  EXPECT_EQ(Slurp(*repo_->Resolve("a/b.txt")), "first");
  // Another replica (its own cache) overwrites it.
  auto other = Open("s3://ringo/team/artifacts");
  ASSERT_TRUE(other->Put("a/b.txt", "second, longer").ok());
  EXPECT_EQ(Slurp(*repo_->Resolve("a/b.txt")), "second, longer");
}

TEST_F(S3RepositoryTest, LargeFileGoesUpInParts) {
  std::unique_ptr<S3Repository> big = SmallPartRepository("s3://ringo/big", dir_ / "cache2");
  ASSERT_TRUE(big);
  S3Repository& repo = *big;
  std::string data = Numbers(12u << 20);
  ASSERT_TRUE(repo.PutFile("w/weights.bin", Temp(data)).ok());
  EXPECT_EQ(Slurp(dir_ / "gw/ringo/big/w/weights.bin"), data);
  std::error_code ec;
  fs::remove_all(dir_ / "cache2", ec);
  auto local = repo.Resolve("w/weights.bin");
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(Slurp(*local), data);
}

// The same store over TLS, its certificate trusted through AWS_CA_BUNDLE: objects and multipart
// parts go up with unsigned payloads (TLS guards them) and come back intact.
class S3OverTlsTest : public S3RepositoryTest {
 protected:
  bool UseTls() const override { return true; }
};

TEST_F(S3OverTlsTest, ObjectsAndPartsRoundTrip) {
  ASSERT_TRUE(repo_->Put("t/notes.txt", "over tls").ok());
  EXPECT_EQ(Slurp(dir_ / "gw/ringo/team/artifacts/t/notes.txt"), "over tls");
  std::unique_ptr<S3Repository> big = SmallPartRepository("s3://ringo/big", dir_ / "cache2");
  ASSERT_TRUE(big);
  S3Repository& repo = *big;
  std::string data = Numbers(11u << 20);  // three parts
  ASSERT_TRUE(repo.PutFile("w/weights.bin", Temp(data)).ok());
  EXPECT_EQ(Slurp(dir_ / "gw/ringo/big/w/weights.bin"), data);
  auto local = repo.Resolve("w/weights.bin");
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(Slurp(*local), data);
}

TEST_F(S3RepositoryTest, PresignedUrlServesTheObjectWithoutCredentials) {
  ASSERT_TRUE(repo_->Put("_ringo/blobs/abc", "blob bytes").ok());
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port_);
  auto url = repo_->PresignGet("_ringo/blobs/abc", 60, "");
  ASSERT_TRUE(url.ok()) << url.status().message();
  ASSERT_EQ(url->rfind(endpoint + "/ringo/", 0), 0u) << *url;
  auto transport = Transport::Create(*ParseEndpoint(endpoint));
  ASSERT_TRUE(transport.ok());
  auto get = [&](const std::string& target) {
    Exchange ex;
    ex.method = "GET";
    ex.target = target;
    auto r = (*transport)->Send(ex);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Reply{};
  };
  Reply ok = get(url->substr(endpoint.size()));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "blob bytes");
  // Another key under the same signature, or a changed expiry, is refused by the store.
  std::string forged = url->substr(endpoint.size());
  forged.replace(forged.find("blobs/abc"), 9, "blobs/abd");
  EXPECT_EQ(get(forged).status, 403);
  // Signed for another address (a public name of the store), the URL names that address.
  auto pub = repo_->PresignGet("_ringo/blobs/abc", 60, "https://cdn.example");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->rfind("https://cdn.example/ringo/", 0), 0u) << *pub;
  EXPECT_EQ(repo_->PresignGet("x", 0, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(repo_->PresignGet("../x", 60, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LocalRepository(dir_).PresignGet("x", 60, "").status().code(),
            Code::kFailedPrecondition);
}

TEST_F(S3RepositoryTest, CacheStaysWithinItsBoundLeastRecentlyUsedFirst) {
  std::string block(100 << 10, 'x');
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(repo_->Put("c/f" + std::to_string(i) + ".bin", block + std::to_string(i)).ok());
  }
  auto opts = S3OptionsFrom("s3://ringo/team/artifacts",
                            "http://127.0.0.1:" + std::to_string(port_), dir_ / "bounded");
  ASSERT_TRUE(opts.ok());
  opts->cache_max_bytes = 250 << 10;
  opts->cache_grace_seconds = 0;
  auto transport = Transport::Create(*ParseEndpoint(opts->endpoint_url));
  ASSERT_TRUE(transport.ok());
  S3Repository repo(*opts, std::move(*transport));
  ASSERT_TRUE(repo.Init().ok());
  std::vector<fs::path> got;
  for (int i = 0; i < 5; ++i) {
    auto p = repo.Resolve("c/f" + std::to_string(i) + ".bin");
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(Slurp(*p), block + std::to_string(i));  // readable when handed out
    got.push_back(*p);
  }
  EXPECT_FALSE(fs::exists(got[0]));  // the least recently used went first
  EXPECT_TRUE(fs::exists(got[4]));
  int64_t bytes = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "bounded" / "objects")) {
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  }
  EXPECT_LE(bytes, 250 << 10);
  // An evicted copy is fetched again when asked for.
  auto again = repo.Resolve("c/f0.bin");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp(*again), block + "0");
}

TEST_F(S3RepositoryTest, WrongSecretOrBucketIsAClearError) {
  setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
  auto bad = Open("s3://ringo/x");
  Status s = bad->Init();
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.message();
  setenv("AWS_SECRET_ACCESS_KEY", "testsecret123", 1);
  Status none = Open("s3://no-such-bucket")->Init();
  EXPECT_EQ(none.code(), Code::kUnavailable) << none.message();
  EXPECT_NE(none.message().find("no-such-bucket"), std::string::npos);
}

}  // namespace
}  // namespace ringo::artifacts
