// The webhook destination policy: which addresses are refused by default, and allow ranges.
#include <gtest/gtest.h>

#include "webhooks/webhooks.h"

namespace ringo::webhooks {
namespace {

TEST(DestinationPolicyTest, RefusesInternalAddressesByDefault) {
  DestinationPolicy p;
  for (const char* ip : {"127.0.0.1", "127.8.9.10", "169.254.169.254", "10.0.0.1", "10.255.1.2",
                         "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "0.0.0.0",
                         "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1",
                         "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254"}) {
    Status s = p.CheckAddress(ip);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << ip;
    EXPECT_NE(s.message().find(ip), std::string::npos) << s.message();
  }
  EXPECT_NE(p.CheckAddress("169.254.169.254").message().find("link-local"), std::string::npos);
}

TEST(DestinationPolicyTest, AllowsPublicAddresses) {
  DestinationPolicy p;
  for (const char* ip : {"93.184.216.34", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                         "2606:4700::1111", "8.8.8.8"}) {
    EXPECT_TRUE(p.CheckAddress(ip).ok()) << ip;
  }
}

TEST(DestinationPolicyTest, AllowRangesLetThrough) {
  Result<DestinationPolicy> p = DestinationPolicy::Make({"127.0.0.1/32", "10.1.0.0/16", "::1"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->CheckAddress("127.0.0.1").ok());
  EXPECT_FALSE(p->CheckAddress("127.0.0.2").ok());
  EXPECT_TRUE(p->CheckAddress("10.1.200.3").ok());
  EXPECT_FALSE(p->CheckAddress("10.2.0.1").ok());
  EXPECT_TRUE(p->CheckAddress("::1").ok());
  EXPECT_TRUE(p->CheckAddress("::ffff:127.0.0.1").ok());
  EXPECT_FALSE(p->CheckAddress("169.254.169.254").ok());
}

TEST(DestinationPolicyTest, BadRangesAreRefused) {
  for (const char* bad : {"10.0.0.0/33", "::1/129", "nonsense", "10.0.0.0/x", "10.0.0.0/-1"}) {
    EXPECT_EQ(DestinationPolicy::Make({bad}).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(DestinationPolicy().CheckAddress("not-an-ip").code(), Code::kInvalidArgument);
}

TEST(CheckDestinationTest, ChecksTheUrlsAddresses) {
  SetDestinationPolicy(DestinationPolicy());
  EXPECT_EQ(CheckDestination("http://169.254.169.254/latest/meta-data/").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CheckDestination("http://127.0.0.1:9/hook").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckDestination("http://localhost:9/hook").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckDestination("ftp://example.org/").code(), Code::kInvalidArgument);
  // A name that does not resolve (.invalid never does) is taken; deliveries check it again.
  EXPECT_TRUE(CheckDestination("https://hooks.example.invalid/x").ok());
  Result<DestinationPolicy> loopback = DestinationPolicy::Make({"127.0.0.0/8", "::1/128"});
  ASSERT_TRUE(loopback.ok());
  SetDestinationPolicy(*loopback);
  EXPECT_TRUE(CheckDestination("http://127.0.0.1:9/hook").ok());
  EXPECT_TRUE(CheckDestination("http://localhost:9/hook").ok());
  SetDestinationPolicy(DestinationPolicy());
}

TEST(PostOnceTest, RefusesADestinationThePolicyRefuses) {
  SetDestinationPolicy(DestinationPolicy());
  Result<Answer> a = PostOnce(Request{"http://127.0.0.1:9/hook", "{}", {}});
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  EXPECT_NE(a.status().message().find("loopback"), std::string::npos);
}

}  // namespace
}  // namespace ringo::webhooks

namespace ringo::webhooks {
namespace {

TEST(ParseHttpUrlTest, HostsPortsAndIpv6Literals) {
  struct Case {
    const char* url;
    const char* host;
    const char* port;
    const char* target;
  } cases[] = {
      {"http://example.org", "example.org", "80", "/"},
      {"http://example.org:8080/a?b=1", "example.org", "8080", "/a?b=1"},
      {"http://[::1]:9/hook", "::1", "9", "/hook"},
      {"http://[fe80::1]/x", "fe80::1", "80", "/x"},
      {"https://example.org", "example.org", "443", "/"},
      {"https://hooks.example.org:8443/in", "hooks.example.org", "8443", "/in"},
      {"https://[::1]/h", "::1", "443", "/h"},
  };
  for (const Case& c : cases) {
    Result<HttpUrl> u = ParseHttpUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url << ": " << u.status().ToString();
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
    EXPECT_EQ(u->target, c.target) << c.url;
    EXPECT_EQ(u->tls, std::string_view(c.url).starts_with("https://")) << c.url;
  }
  for (const char* bad : {"ftp://example.org/", "HTTPS//x", "https://", "https://h:0/",
                          "http://", "http://a b/", "http://h:0/",
                          "http://h:99999/", "http://[::1/", "http://h:x/"}) {
    EXPECT_EQ(ParseHttpUrl(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ringo::webhooks
