// Client TLS setup: the MLflow flag spelling and refusing an unreadable CA file.
#include "common/tls.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace ringo {
namespace {

TEST(TlsTest, EnvFlagTrueAcceptsMlflowSpellings) {
  struct Case {
    const char* value;
    bool want;
  };
  const Case cases[] = {{nullptr, false}, {"", false},    {"true", true},  {"TRUE", true},
                        {"True", true},   {"1", true},    {"false", false}, {"0", false},
                        {"yes", false},   {"truex", false}};
  for (const Case& c : cases) {
    EXPECT_EQ(EnvFlagTrue(c.value), c.want) << (c.value ? c.value : "(null)");
  }
}

struct Ctx {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ~Ctx() { SSL_CTX_free(ctx); }
};

TEST(TlsTest, ConfigureTlsClientRefusesMissingCaFile) {
  Ctx c;
  Status s = ConfigureTlsClient(c.ctx, {.ca_file = "/nonexistent/ca.pem"});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("/nonexistent/ca.pem"), std::string::npos) << s.message();
}

TEST(TlsTest, ConfigureTlsClientRefusesFileWithoutCertificate) {
  auto path = std::filesystem::temp_directory_path() / ("ringo-tls-test-" +
                                                        std::to_string(::getpid()) + ".pem");
  std::ofstream(path) << "not a certificate\n";
  Ctx c;
  Status s = ConfigureTlsClient(c.ctx, {.ca_file = path.string()});
  std::filesystem::remove(path);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

TEST(TlsTest, ConfigureTlsClientVerifiesUnlessToldNot) {
  Ctx c;
  ASSERT_TRUE(ConfigureTlsClient(c.ctx, {}).ok());
  EXPECT_EQ(SSL_CTX_get_verify_mode(c.ctx), SSL_VERIFY_PEER);
  EXPECT_GE(SSL_CTX_get_min_proto_version(c.ctx), TLS1_2_VERSION);
  Ctx insecure;
  ASSERT_TRUE(ConfigureTlsClient(insecure.ctx, {.verify = false}).ok());
  EXPECT_EQ(SSL_CTX_get_verify_mode(insecure.ctx), SSL_VERIFY_NONE);
}

}  // namespace
}  // namespace ringo
