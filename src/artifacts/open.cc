// Choosing a repository from an --artifacts-destination, and S3's settings from the URI and
// the environment every S3 tool reads.
#include <cstdlib>

#include "artifacts/artifacts.h"
#include "artifacts/s3_repository.h"

namespace ringo::artifacts {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Result<S3Options> S3OptionsFrom(const std::string& uri, const std::string& endpoint_url,
                                const std::filesystem::path& cache_dir) {
  if (uri.rfind("s3://", 0) != 0) return InvalidArgument("'" + uri + "' is not an s3:// URI");
  S3Options o;
  std::string rest = uri.substr(5);
  size_t slash = rest.find('/');
  o.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) o.prefix = rest.substr(slash + 1);
  while (!o.prefix.empty() && o.prefix.back() == '/') o.prefix.pop_back();
  while (!o.prefix.empty() && o.prefix.front() == '/') o.prefix.erase(0, 1);
  if (o.bucket.empty()) return InvalidArgument("'" + uri + "' names no bucket (s3://bucket/prefix)");
  o.endpoint_url = endpoint_url;
  if (o.endpoint_url.empty()) o.endpoint_url = Env("MLFLOW_S3_ENDPOINT_URL");
  if (o.endpoint_url.empty()) o.endpoint_url = Env("AWS_ENDPOINT_URL");
  std::string region = Env("AWS_DEFAULT_REGION");
  if (region.empty()) region = Env("AWS_REGION");
  if (!region.empty()) o.region = region;
  if (o.endpoint_url.empty()) o.endpoint_url = "https://s3." + o.region + ".amazonaws.com";
  o.access_key_id = Env("AWS_ACCESS_KEY_ID");
  o.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  o.session_token = Env("AWS_SESSION_TOKEN");
  o.ca_bundle = Env("AWS_CA_BUNDLE");
  if (o.access_key_id.empty() || o.secret_access_key.empty()) {
    return InvalidArgument("artifacts on " + uri +
                           " need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
  }
  o.cache_dir = cache_dir;
  return o;
}

Result<std::unique_ptr<Repository>> OpenRepository(const std::string& destination,
                                                   const std::string& s3_endpoint_url,
                                                   const std::filesystem::path& cache_dir,
                                                   int64_t cache_max_bytes) {
  if (destination.rfind("s3://", 0) != 0) {
    if (destination.find("://") != std::string::npos) {
      return InvalidArgument("artifact destination '" + destination +
                             "' is neither a local directory nor s3://bucket/prefix");
    }
    return std::unique_ptr<Repository>(std::make_unique<LocalRepository>(destination));
  }
  ASSIGN_OR_RETURN(S3Options options, S3OptionsFrom(destination, s3_endpoint_url, cache_dir));
  options.cache_max_bytes = cache_max_bytes;
  ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(options.endpoint_url));
  endpoint.ca_bundle = options.ca_bundle;
  ASSIGN_OR_RETURN(auto transport, Transport::Create(endpoint));
  return std::unique_ptr<Repository>(
      std::make_unique<S3Repository>(std::move(options), std::move(transport)));
}

}  // namespace ringo::artifacts
