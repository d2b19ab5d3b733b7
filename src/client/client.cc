// Blocking HTTP client of ringo's API on Boost.Beast.
#include "client/client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <utility>  // must precede Asio with GCC 12 + C++20

#include "common/paths.h"
#include "common/util.h"

namespace ringo::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string UrlEncode(std::string_view s, bool keep_slash) { return PercentEncode(s, keep_slash); }

struct Client::Impl {
  // MLflow's MLFLOW_TRACKING_TOKEN (or RINGO_TOKEN) as a bearer token, as MLflow clients send it,
  // unless the server is not ringo's. Every request names its client: some servers (Ray's
  // dashboard) fail requests without a User-Agent.
  template <typename Req>
  void Authorize(Req& req) {
    req.set(bhttp::field::user_agent, "ringo");
    if (!send_token) return;
    const char* t = std::getenv("MLFLOW_TRACKING_TOKEN");
    if (!t || !*t) t = std::getenv("RINGO_TOKEN");
    if (t && *t) {
      req.set(bhttp::field::authorization, std::string("Bearer ") + t);
      return;
    }
    // A user's name and password, as MLflow clients send them (basic auth).
    const char* user = std::getenv("MLFLOW_TRACKING_USERNAME");
    const char* password = std::getenv("MLFLOW_TRACKING_PASSWORD");
    if (user && *user && password) {
      req.set(bhttp::field::authorization,
              "Basic " + Base64Encode(std::string(user) + ":" + password));
    }
  }

  bool send_token = true;
  std::string host;
  std::string port;
  std::string prefix;
  asio::io_context ioc;
  // https: the context every connection of this client uses; plain http leaves it empty.
  std::unique_ptr<asio::ssl::context> tls_ctx;
  std::optional<beast::tcp_stream> stream;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;

  // An IPv6 literal goes in brackets.
  std::string HostHeader() const {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
  }
  std::string Where() const {
    return (tls_ctx ? "https://" : "http://") + HostHeader() + ":" + port;
  }
  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *stream; }
  bool Connected() { return (tls || stream) && Tcp().socket().is_open(); }
  void Drop() {
    tls.reset();
    stream.reset();
  }
  // Runs `f` on the connection's stream, whichever kind it is.
  template <typename F>
  void OnStream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*stream);
    }
  }

  Status EnsureConnected() {
    if (Connected()) return Status::Ok();
    Drop();
    try {
      tcp::resolver resolver(ioc);
      auto results = resolver.resolve(host, port);
      if (tls_ctx) {
        tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *tls_ctx);
        RETURN_IF_ERROR(PrepareTlsConnection(tls->native_handle(), host));
      } else {
        stream.emplace(ioc);
      }
      Tcp().connect(results);
      Tcp().socket().set_option(tcp::no_delay(true));
    } catch (const std::exception& e) {
      Drop();
      return Unavailable("cannot connect to " + Where() + ": " + e.what());
    }
    if (tls) {
      beast::error_code ec;
      tls->handshake(asio::ssl::stream_base::client, ec);
      if (ec) {
        std::string why = TlsFailureReason(tls->native_handle(), ec.message());
        Drop();
        return Unavailable("TLS handshake with " + host + ":" + port + " failed: " + why);
      }
    }
    return Status::Ok();
  }

  template <typename Body>
  Result<bhttp::response<bhttp::string_body>> RoundTrip(bhttp::request<Body>& req) {
    // One retry on a fresh connection covers a keep-alive connection the server closed.
    for (int attempt = 0; attempt < 2; ++attempt) {
      RETURN_IF_ERROR(EnsureConnected());
      try {
        Tcp().expires_after(std::chrono::seconds(300));
        beast::flat_buffer buffer;
        // Beast reads at most the buffer's free room (512 bytes at least) at a time.
        buffer.reserve(64 * 1024);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1ull << 32);
        OnStream([&](auto& s) {
          bhttp::write(s, req);
          bhttp::read(s, buffer, parser);
        });
        auto res = parser.release();
        if (!res.keep_alive()) Drop();
        return res;
      } catch (const std::exception& e) {
        Drop();
        if (attempt == 1) return Unavailable("request to " + Where() + " failed: " + e.what());
      }
    }
    return Unavailable("unreachable");
  }

  Result<Json> Decode(const bhttp::response<bhttp::string_body>& res) {
    Json body;
    bool parsed = true;
    try {
      body = res.body().empty() ? Json::object() : Json::parse(res.body());
    } catch (const std::exception&) {
      parsed = false;
    }
    unsigned status = res.result_int();
    if (status >= 200 && status < 300) {
      if (!parsed) return Internal("server sent a malformed JSON response");
      return body;
    }
    std::string code = parsed && body.is_object() ? body.value("error_code", "") : "";
    std::string message =
        parsed && body.is_object() ? body.value("message", res.body()) : res.body();
    if (code == "RESOURCE_DOES_NOT_EXIST" || status == 404) return NotFound(message);
    if (code == "RESOURCE_ALREADY_EXISTS") return AlreadyExists(message);
    if (status >= 500)
      return Unavailable("server error " + std::to_string(status) + ": " + message);
    return InvalidArgument(message);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<TrackingUri> ParseTrackingUri(const std::string& uri) {
  TrackingUri out;
  std::string_view rest = uri;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return InvalidArgument("unsupported tracking URI '" + uri +
                           "': expected http://host:port or https://host[:port]");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.prefix = std::string(rest.substr(slash));
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string_view port;
  if (authority.starts_with("[")) {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("tracking URI '" + uri + "' has an unclosed '['");
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) {
      return InvalidArgument("tracking URI '" + uri + "' has no valid host");
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.host.find_first_of("@ ") != std::string::npos) {
    return InvalidArgument("tracking URI '" + uri + "' has no host");
  }
  if (port.empty() && authority.ends_with(":")) {
    return InvalidArgument("tracking URI '" + uri + "' has an empty port");
  }
  out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
  auto n = ParseInt64(out.port);
  if (!n || *n < 1 || *n > 65535) {
    return InvalidArgument("tracking URI '" + uri + "' has an invalid port");
  }
  return out;
}

Result<TlsClientOptions> TlsOptionsFromEnvironment() {
  TlsClientOptions options;
  const char* ca = std::getenv("MLFLOW_TRACKING_SERVER_CERT_PATH");
  if (ca && *ca) options.ca_file = ca;
  options.verify = !EnvFlagTrue(std::getenv("MLFLOW_TRACKING_INSECURE_TLS"));
  if (!options.verify && !options.ca_file.empty()) {
    return InvalidArgument(
        "MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH exclude each "
        "other: unset one");
  }
  return options;
}

Result<std::unique_ptr<Client>> Client::Connect(const std::string& tracking_uri,
                                                bool send_token) {
  ASSIGN_OR_RETURN(TrackingUri uri, ParseTrackingUri(tracking_uri));
  auto impl = std::make_unique<Impl>();
  impl->send_token = send_token;
  impl->host = uri.host;
  impl->port = uri.port;
  impl->prefix = uri.prefix;
  if (uri.tls) {
    ASSIGN_OR_RETURN(TlsClientOptions options, TlsOptionsFromEnvironment());
    impl->tls_ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    Status s = ConfigureTlsClient(impl->tls_ctx->native_handle(), options);
    if (!s.ok()) return InvalidArgument("MLFLOW_TRACKING_SERVER_CERT_PATH: " + s.message());
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<Json> Client::Get(const std::string& path, const Query& query) {
  std::string target = impl_->prefix + path;
  char sep = '?';
  for (const auto& [k, v] : query) {
    target += sep + UrlEncode(k, false) + "=" + UrlEncode(v, false);
    sep = '&';
  }
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
  req.set(bhttp::field::host, impl_->HostHeader());
  impl_->Authorize(req);
  req.keep_alive(true);
  ASSIGN_OR_RETURN(auto res, impl_->RoundTrip(req));
  return impl_->Decode(res);
}

Result<Json> Client::Post(const std::string& path, const Json& body) {
  return Send(static_cast<int>(bhttp::verb::post), path, body);
}

Result<Json> Client::Delete(const std::string& path, const Json& body) {
  return Send(static_cast<int>(bhttp::verb::delete_), path, body);
}

Result<Json> Client::Put(const std::string& path, const Json& body) {
  return Send(static_cast<int>(bhttp::verb::put), path, body);
}

Result<Json> Client::Patch(const std::string& path, const Json& body) {
  return Send(static_cast<int>(bhttp::verb::patch), path, body);
}

Result<Json> Client::Send(int verb, const std::string& path, const Json& body) {
  bhttp::request<bhttp::string_body> req(static_cast<bhttp::verb>(verb), impl_->prefix + path, 11);
  req.set(bhttp::field::host, impl_->HostHeader());
  impl_->Authorize(req);
  req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body.dump();
  req.prepare_payload();
  ASSIGN_OR_RETURN(auto res, impl_->RoundTrip(req));
  return impl_->Decode(res);
}

Status Client::Delete(const std::string& path) {
  bhttp::request<bhttp::string_body> req(bhttp::verb::delete_, impl_->prefix + path, 11);
  req.set(bhttp::field::host, impl_->HostHeader());
  impl_->Authorize(req);
  req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = "{}";
  req.prepare_payload();
  ASSIGN_OR_RETURN(auto res, impl_->RoundTrip(req));
  return impl_->Decode(res).status();
}

Status Client::PutFile(const std::string& path, const std::filesystem::path& file) {
  bhttp::request<bhttp::file_body> req(bhttp::verb::put, impl_->prefix + path, 11);
  req.set(bhttp::field::host, impl_->HostHeader());
  impl_->Authorize(req);
  req.set(bhttp::field::content_type, "application/octet-stream");
  req.keep_alive(true);
  beast::error_code ec;
  req.body().open(file.c_str(), beast::file_mode::scan, ec);
  if (ec) return InvalidArgument("cannot read '" + file.string() + "': " + ec.message());
  req.prepare_payload();
  ASSIGN_OR_RETURN(auto res, impl_->RoundTrip(req));
  auto decoded = impl_->Decode(res);
  return decoded.ok() ? Status::Ok() : decoded.status();
}

Result<Json> Client::GetRun(const std::string& run_id) {
  ASSIGN_OR_RETURN(Json j, Get("/api/2.0/mlflow/runs/get", {{"run_id", run_id}}));
  return j["run"];
}

Result<std::string> Client::CreateExperiment(const std::string& name) {
  ASSIGN_OR_RETURN(Json j, Post("/api/2.0/mlflow/experiments/create", Json{{"name", name}}));
  return j.value("experiment_id", "");
}

Status Client::LogParam(const std::string& run_id, const std::string& key,
                        const std::string& value) {
  auto r = Post("/api/2.0/mlflow/runs/log-parameter",
                Json{{"run_id", run_id}, {"key", key}, {"value", value}});
  return r.ok() ? Status::Ok() : r.status();
}

Status Client::LogMetric(const std::string& run_id, const std::string& key, double value,
                         int64_t timestamp, int64_t step) {
  Json v = value;
  if (std::isnan(value)) v = "NaN";
  if (std::isinf(value)) v = value > 0 ? "Infinity" : "-Infinity";
  auto r = Post("/api/2.0/mlflow/runs/log-metric", Json{{"run_id", run_id},
                                                        {"key", key},
                                                        {"value", v},
                                                        {"timestamp", timestamp},
                                                        {"step", step}});
  return r.ok() ? Status::Ok() : r.status();
}

namespace {

// The proxy path of a run's artifact root ("1/<run>/artifacts"), from its artifact_uri.
Result<std::string> ProxyRoot(Client& c, const std::string& run_id) {
  ASSIGN_OR_RETURN(Json run, c.GetRun(run_id));
  std::string uri = run["info"].value("artifact_uri", "");
  const std::string scheme = "mlflow-artifacts:";
  if (uri.rfind(scheme, 0) != 0) {
    return FailedPrecondition("run '" + run_id + "' stores artifacts at '" + uri +
                              "', which is not served through this server");
  }
  std::string base = uri.substr(scheme.size());
  if (base.rfind("//", 0) == 0) base = base.substr(std::min(base.size(), base.find('/', 2)));
  while (!base.empty() && base.front() == '/') base.erase(0, 1);
  return base;
}

}  // namespace

Status Client::GetToFile(const std::string& path, const std::filesystem::path& file) {
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, impl_->prefix + path, 11);
  req.set(bhttp::field::host, impl_->HostHeader());
  impl_->Authorize(req);
  req.keep_alive(true);
  ASSIGN_OR_RETURN(auto res, impl_->RoundTrip(req));
  if (res.result_int() != 200) {
    auto decoded = impl_->Decode(res);
    return decoded.ok() ? Internal("unexpected status " + std::to_string(res.result_int()))
                        : decoded.status();
  }
  return WriteFileAtomic(file, res.body());
}

Status Client::DownloadArtifacts(const std::string& run_id, const std::string& artifact_path,
                                 const std::filesystem::path& local_dir) {
  ASSIGN_OR_RETURN(std::string base, ProxyRoot(*this, run_id));
  std::string root = artifact_path.empty() ? base : base + "/" + artifact_path;
  // Breadth-first over the listing, one request per directory as MLflow's client does.
  std::vector<std::string> dirs = {""};
  int files = 0;
  while (!dirs.empty()) {
    std::string rel = dirs.back();
    dirs.pop_back();
    std::string listed = rel.empty() ? root : root + "/" + rel;
    ASSIGN_OR_RETURN(Json j, Get("/api/2.0/mlflow-artifacts/artifacts", {{"path", listed}}));
    for (const Json& f : j.value("files", Json::array())) {
      std::string name = f.value("path", "");
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
        return Internal("the server listed an unsafe artifact name '" + name + "'");
      }
      std::string child = rel.empty() ? name : rel + "/" + name;
      if (f.value("is_dir", false)) {
        dirs.push_back(child);
      } else {
        RETURN_IF_ERROR(
            GetToFile("/api/2.0/mlflow-artifacts/artifacts/" + UrlEncode(root + "/" + child, true),
                      local_dir / child));
        ++files;
      }
    }
  }
  if (files == 0)
    return NotFound("run '" + run_id + "' has no artifacts under '" + artifact_path + "'");
  return Status::Ok();
}

Status Client::LogArtifact(const std::string& run_id, const std::filesystem::path& local,
                           const std::string& artifact_path) {
  ASSIGN_OR_RETURN(std::string dest, ProxyRoot(*this, run_id));
  if (!artifact_path.empty()) dest += "/" + artifact_path;
  std::error_code ec;
  auto upload = [&](const std::filesystem::path& file, const std::string& rel) {
    return PutFile("/api/2.0/mlflow-artifacts/artifacts/" + UrlEncode(dest + "/" + rel, true),
                   file);
  };
  if (std::filesystem::is_regular_file(local, ec)) {
    return upload(local, local.filename().string());
  }
  if (!std::filesystem::is_directory(local, ec)) {
    return InvalidArgument("'" + local.string() + "' is neither a file nor a directory");
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(local, ec)) {
    if (!entry.is_regular_file()) continue;
    RETURN_IF_ERROR(upload(entry.path(), std::filesystem::relative(entry.path(), local).string()));
  }
  if (ec) return Internal("cannot walk '" + local.string() + "': " + ec.message());
  return Status::Ok();
}

Result<Json> Client::RegisterModel(const std::string& source, const std::string& name,
                                   const std::string& run_id) {
  std::string uri = source;
  std::string run = run_id;
  bool local = source.rfind("runs:/", 0) != 0 && source.rfind("mlflow-artifacts:", 0) != 0;
  if (local) {
    std::error_code ec;
    if (!std::filesystem::exists(source, ec)) return NotFound("'" + source + "' does not exist");
    if (run.empty()) {
      ASSIGN_OR_RETURN(Json r, Post("/api/2.0/mlflow/runs/create",
                                    Json{{"experiment_id", "0"},
                                         {"start_time", NowMillis()},
                                         {"run_name", "register " + name},
                                         {"tags", Json::array({Json{{"key", "ringo.registeredModel"},
                                                                    {"value", name}}})}}));
      run = r["run"]["info"].value("run_id", "");
    }
    std::filesystem::path p = std::filesystem::absolute(source).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    // A file lands at model/<name>; a directory (an .mlpackage) at model/<name>/...
    RETURN_IF_ERROR(LogArtifact(
        run, p, std::filesystem::is_directory(p) ? "model/" + p.filename().string() : "model"));
    if (run_id.empty()) {
      (void)Post("/api/2.0/mlflow/runs/update",
                 Json{{"run_id", run}, {"status", "FINISHED"}, {"end_time", NowMillis()}});
    }
    ASSIGN_OR_RETURN(Json got, GetRun(run));
    uri = got["info"].value("artifact_uri", "") + "/model/" + p.filename().string();
  }
  auto created = Post("/api/2.0/mlflow/registered-models/create", Json{{"name", name}});
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  Json body{{"name", name}, {"source", uri}};
  if (!run.empty()) body["run_id"] = run;
  return Post("/api/2.0/mlflow/model-versions/create", body);
}

}  // namespace ringo::client
