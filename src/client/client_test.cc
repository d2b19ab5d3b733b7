// Tracking URIs and the TLS settings MLflow's environment variables make.
#include "client/client.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace ringo::client {
namespace {

TEST(ParseTrackingUriTest, SchemesHostsPortsAndPrefixes) {
  struct Case {
    const char* uri;
    bool tls;
    const char* host;
    const char* port;
    const char* prefix;
  } cases[] = {
      {"http://127.0.0.1:5000", false, "127.0.0.1", "5000", ""},
      {"http://example.org", false, "example.org", "80", ""},
      {"https://example.org", true, "example.org", "443", ""},
      {"https://example.org:8443/", true, "example.org", "8443", ""},
      {"https://example.org/mlflow/", true, "example.org", "443", "/mlflow"},
      {"https://[::1]:9443/x", true, "::1", "9443", "/x"},
      {"http://[::1]", false, "::1", "80", ""},
  };
  for (const Case& c : cases) {
    Result<TrackingUri> u = ParseTrackingUri(c.uri);
    ASSERT_TRUE(u.ok()) << c.uri << ": " << u.status().message();
    EXPECT_EQ(u->tls, c.tls) << c.uri;
    EXPECT_EQ(u->host, c.host) << c.uri;
    EXPECT_EQ(u->port, c.port) << c.uri;
    EXPECT_EQ(u->prefix, c.prefix) << c.uri;
  }
}

TEST(ParseTrackingUriTest, RefusesOtherSchemesAndBadAuthorities) {
  for (const char* bad : {"ftp://h/", "h:5000", "https://", "https://:443", "http://h:",
                          "http://h:0", "http://h:65536", "http://h:x", "https://[::1",
                          "https://[::1]x", "http://user@h/"}) {
    Result<TrackingUri> u = ParseTrackingUri(bad);
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(u.status().message().find(bad), std::string::npos) << u.status().message();
  }
}

// Sets (or with nullptr unsets) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_{};
};

TEST(TlsOptionsFromEnvironmentTest, ReadsMlflowVariables) {
  struct Case {
    const char* insecure;
    const char* ca;
    bool ok;
    bool verify;
    const char* ca_file;
  } cases[] = {
      {nullptr, nullptr, true, true, ""},
      {"true", nullptr, true, false, ""},
      {"True", "", true, false, ""},
      {"false", "/etc/ca.pem", true, true, "/etc/ca.pem"},
      {nullptr, "/etc/ca.pem", true, true, "/etc/ca.pem"},
      {"true", "/etc/ca.pem", false, false, ""},
  };
  for (const Case& c : cases) {
    ScopedEnv insecure("MLFLOW_TRACKING_INSECURE_TLS", c.insecure);
    ScopedEnv ca("MLFLOW_TRACKING_SERVER_CERT_PATH", c.ca);
    Result<TlsClientOptions> o = TlsOptionsFromEnvironment();
    ASSERT_EQ(o.ok(), c.ok) << (c.insecure ? c.insecure : "-") << " " << (c.ca ? c.ca : "-");
    if (!c.ok) {
      EXPECT_EQ(o.status().code(), Code::kInvalidArgument);
      continue;
    }
    EXPECT_EQ(o->verify, c.verify);
    EXPECT_EQ(o->ca_file, c.ca_file);
  }
}

TEST(ClientConnectTest, HttpsWithUnreadableCaFileIsRefused) {
  ScopedEnv insecure("MLFLOW_TRACKING_INSECURE_TLS", nullptr);
  ScopedEnv ca("MLFLOW_TRACKING_SERVER_CERT_PATH", "/nonexistent/ca.pem");
  auto c = Client::Connect("https://127.0.0.1:1");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  // Plain http never reads the TLS settings.
  EXPECT_TRUE(Client::Connect("http://127.0.0.1:1").ok());
}

}  // namespace
}  // namespace ringo::client
