// SHA-256 of bytes, files and directory trees.
#include "common/hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>

namespace ringo {

namespace fs = std::filesystem;

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.HexDigest();
}

void TreeHash::AddFile(std::string_view relative_path, std::string_view content_sha256_hex) {
  h_.Update(relative_path);
  h_.Update(std::string_view("\0", 1));
  h_.Update(content_sha256_hex);
  h_.Update("\n");
}

namespace {

Status HashFileInto(const fs::path& p, Sha256* h) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Internal("cannot read '" + p.string() + "'");
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    h->Update(std::string_view(buf, static_cast<size_t>(in.gcount())));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> HashPath(const fs::path& path, const std::vector<std::string>& skip) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return NotFound("'" + path.string() + "' does not exist");
  Sha256 h;
  if (fs::is_regular_file(st)) {
    // Nothing but the content: a file's hash must match what every other tool prints for it.
    RETURN_IF_ERROR(HashFileInto(path, &h));
    return h.HexDigest();
  }
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(path, ec), end;
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("cannot walk '" + path.string() + "': " + ec.message());
    std::string name = it->path().filename().string();
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), path).generic_string());
  }
  std::sort(files.begin(), files.end());
  TreeHash tree;
  for (const std::string& f : files) {
    Sha256 content;
    RETURN_IF_ERROR(HashFileInto(path / f, &content));
    tree.AddFile(f, content.HexDigest());
  }
  return tree.HexDigest();
}

}  // namespace ringo
