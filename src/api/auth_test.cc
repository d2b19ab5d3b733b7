// Who may create a server's first token.
#include "api/auth.h"

#include <gtest/gtest.h>

namespace ringo::api {
namespace {

http::Request From(std::string peer, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request r;
  r.peer = std::move(peer);
  r.headers = std::move(headers);
  return r;
}

TEST(FirstTokenTest, OnlyFromTheServersOwnMachine) {
  EXPECT_TRUE(Auth::FirstTokenAllowedFrom(From("127.0.0.1")));
  EXPECT_TRUE(Auth::FirstTokenAllowedFrom(From("127.1.2.3")));
  EXPECT_TRUE(Auth::FirstTokenAllowedFrom(From("::1")));
  EXPECT_TRUE(Auth::FirstTokenAllowedFrom(From("::ffff:127.0.0.1")));
  EXPECT_FALSE(Auth::FirstTokenAllowedFrom(From("192.0.2.10")));
  EXPECT_FALSE(Auth::FirstTokenAllowedFrom(From("10.0.0.7")));
  EXPECT_FALSE(Auth::FirstTokenAllowedFrom(From("")));
  // A proxy on the same machine relays others' requests.
  EXPECT_FALSE(Auth::FirstTokenAllowedFrom(From("127.0.0.1", {{"x-forwarded-for", "203.0.113.5"}})));
  EXPECT_FALSE(Auth::FirstTokenAllowedFrom(From("127.0.0.1", {{"forwarded", "for=203.0.113.5"}})));
}

}  // namespace
}  // namespace ringo::api
