// AWS Signature Version 4 for S3 requests (private to artifacts/).
#ifndef RINGO_ARTIFACTS_S3_SIGN_H_
#define RINGO_ARTIFACTS_S3_SIGN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringo::artifacts {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// What a signature covers. `path` is the request path already URI-encoded as sent (S3 signs it
// as is, without encoding it twice); `query` holds raw names and values; `headers` must hold
// host, x-amz-date and x-amz-content-sha256 and are all signed.
struct SignRequest {
  std::string method;
  std::string path;
  Pairs query;
  Pairs headers;
  std::string payload_sha256;  // lowercase hex, or "UNSIGNED-PAYLOAD"
  std::string amz_date;        // YYYYMMDDTHHMMSSZ, the x-amz-date header's value
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
};

// The Authorization header's value for `r` ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...").
std::string Authorization(const SignRequest& r);

// The query string of a presigned request (AWS's "query parameters" form): `r.query` with the
// X-Amz-Algorithm, -Credential, -Date, -Expires (`expires_seconds` from r.amz_date),
// -SignedHeaders (host only), -Security-Token (when given) and -Signature parameters, in
// canonical form. Only r.headers' host is signed; the payload is unsigned.
std::string PresignedQuery(const SignRequest& r, int64_t expires_seconds,
                           const std::string& session_token);

// The query string in canonical form: names and values percent-encoded (PercentEncode), sorted by name then value.
std::string CanonicalQuery(const Pairs& query);

// The current UTC time as YYYYMMDDTHHMMSSZ.
std::string AmzDateNow();

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_S3_SIGN_H_
