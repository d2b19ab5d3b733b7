// AWS Signature Version 4: canonical request, string to sign, the derived key chain.
#include "artifacts/s3_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "common/hash.h"
#include "common/util.h"

namespace ringo::artifacts {

namespace {

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Header values are signed with surrounding spaces removed and inner runs of spaces as one.
std::string TrimValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string CanonicalQuery(const Pairs& query) {
  Pairs encoded;
  for (const auto& [k, v] : query) encoded.emplace_back(PercentEncode(k, false), PercentEncode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

namespace {

// The signature of a canonical request, lowercase hex, and the credential scope it names.
std::string SignatureHex(const SignRequest& r, const std::string& canonical, std::string* scope) {
  std::string day = r.amz_date.substr(0, 8);
  *scope = day + "/" + r.region + "/s3/aws4_request";
  std::string to_sign =
      "AWS4-HMAC-SHA256\n" + r.amz_date + "\n" + *scope + "\n" + Sha256Hex(canonical);
  std::string key = HmacSha256("AWS4" + r.secret_access_key, day);
  key = HmacSha256(key, r.region);
  key = HmacSha256(key, "s3");
  key = HmacSha256(key, "aws4_request");
  return Hex(HmacSha256(key, to_sign));
}

}  // namespace

std::string Authorization(const SignRequest& r) {
  Pairs headers;
  for (const auto& [k, v] : r.headers) headers.emplace_back(Lower(k), TrimValue(v));
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [k, v] : headers) {
    canonical_headers += k + ":" + v + "\n";
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += k;
  }
  std::string canonical = r.method + "\n" + r.path + "\n" + CanonicalQuery(r.query) + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + r.payload_sha256;
  std::string scope;
  std::string signature = SignatureHex(r, canonical, &scope);
  return "AWS4-HMAC-SHA256 Credential=" + r.access_key_id + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" + signature;
}

std::string PresignedQuery(const SignRequest& r, int64_t expires_seconds,
                           const std::string& session_token) {
  std::string host;
  for (const auto& [k, v] : r.headers) {
    if (Lower(k) == "host") host = TrimValue(v);
  }
  Pairs query = r.query;
  query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  query.emplace_back("X-Amz-Credential", r.access_key_id + "/" + r.amz_date.substr(0, 8) + "/" +
                                             r.region + "/s3/aws4_request");
  query.emplace_back("X-Amz-Date", r.amz_date);
  query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
  if (!session_token.empty()) query.emplace_back("X-Amz-Security-Token", session_token);
  query.emplace_back("X-Amz-SignedHeaders", "host");
  std::string canonical = r.method + "\n" + r.path + "\n" + CanonicalQuery(query) + "\nhost:" +
                          host + "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string scope;
  query.emplace_back("X-Amz-Signature", SignatureHex(r, canonical, &scope));
  return CanonicalQuery(query);
}

std::string AmzDateNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace ringo::artifacts
