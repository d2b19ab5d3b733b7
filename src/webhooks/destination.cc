// Which addresses webhooks may reach: the destination policy and its check of URLs.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <mutex>

#include "common/util.h"
#include "webhooks/webhooks.h"

namespace ringo::webhooks {

namespace asio = boost::asio;

namespace {

std::vector<uint8_t> Bytes(const asio::ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return {b.begin(), b.end()};
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) {
    auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
    return {b.begin(), b.end()};
  }
  auto b = v6.to_bytes();
  return {b.begin(), b.end()};
}

bool InRange(const std::vector<uint8_t>& addr, const std::vector<uint8_t>& net, int bits) {
  if (addr.size() != net.size()) return false;
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((addr[size_t(byte)] >> bit) & 1) != ((net[size_t(byte)] >> bit) & 1)) return false;
  }
  return true;
}

struct Refused {
  const char* net;
  int bits;
  const char* kind;
};

// The ranges refused by default, each with what it is.
constexpr Refused kRefused[] = {
    {"0.0.0.0", 8, "a 'this network' address"},  {"10.0.0.0", 8, "a private address"},
    {"100.64.0.0", 10, "a carrier-grade NAT address"}, {"127.0.0.0", 8, "a loopback address"},
    {"169.254.0.0", 16, "a link-local address (cloud metadata lives there)"},
    {"172.16.0.0", 12, "a private address"},     {"192.168.0.0", 16, "a private address"},
    {"224.0.0.0", 4, "a multicast address"},     {"240.0.0.0", 4, "a reserved address"},
    {"::", 128, "the unspecified address"},      {"::1", 128, "a loopback address"},
    {"fe80::", 10, "a link-local address"},      {"fc00::", 7, "a private (unique local) address"},
    {"ff00::", 8, "a multicast address"},
};

std::mutex policy_mu;
std::shared_ptr<const DestinationPolicy>& Current() {
  static std::shared_ptr<const DestinationPolicy> current =
      std::make_shared<const DestinationPolicy>();
  return current;
}

}  // namespace

Result<DestinationPolicy> DestinationPolicy::Make(const std::vector<std::string>& allow) {
  DestinationPolicy p;
  for (const std::string& text : allow) {
    size_t slash = text.find('/');
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(text.substr(0, slash), ec);
    if (ec) return InvalidArgument("webhook allow range '" + text + "': not an address");
    Range r;
    r.net = Bytes(addr);
    int max = int(r.net.size() * 8);
    r.bits = max;
    if (slash != std::string::npos) {
      auto bits = ParseInt64(text.substr(slash + 1));
      if (!bits || *bits < 0 || *bits > max) {
        return InvalidArgument("webhook allow range '" + text + "': the prefix length must be 0-" +
                               std::to_string(max));
      }
      r.bits = int(*bits);
    }
    p.allow_.push_back(std::move(r));
  }
  return p;
}

Status DestinationPolicy::CheckAddress(const std::string& ip) const {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return InvalidArgument("'" + ip + "' is not an IP address");
  std::vector<uint8_t> bytes = Bytes(addr);
  for (const Range& r : allow_) {
    if (InRange(bytes, r.net, r.bits)) return Status::Ok();
  }
  for (const Refused& r : kRefused) {
    if (InRange(bytes, Bytes(asio::ip::make_address(r.net)), r.bits)) {
      return InvalidArgument("webhook destination " + ip + " is " + r.kind +
                             "; refused (ringo server --webhook-allow RANGE lets it through)");
    }
  }
  return Status::Ok();
}

void SetDestinationPolicy(DestinationPolicy policy) {
  std::lock_guard lock(policy_mu);
  Current() = std::make_shared<const DestinationPolicy>(std::move(policy));
}

std::shared_ptr<const DestinationPolicy> CurrentDestinationPolicy() {
  std::lock_guard lock(policy_mu);
  return Current();
}

Status CheckDestination(const std::string& url) {
  ASSIGN_OR_RETURN(HttpUrl u, ParseHttpUrl(url));
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(u.host, u.port, ec);
  // A name that does not resolve here yet is taken, as MLflow takes it: each delivery checks
  // the addresses it connects to, so it can never reach a refused one.
  if (ec) return Status::Ok();
  auto policy = CurrentDestinationPolicy();
  for (const auto& e : endpoints) {
    RETURN_IF_ERROR(policy->CheckAddress(e.endpoint().address().to_string()));
  }
  return Status::Ok();
}

}  // namespace ringo::webhooks
