// The manifest signing keys (private to deploy/): the current Ed25519 key and, while a rotation
// is under way, the next one. Both live in the store (document signing_key/manifest) so that
// every server sharing it signs alike; a file beside the blobs keeps a copy of the current key.
#ifndef RINGO_DEPLOY_SIGNER_H_
#define RINGO_DEPLOY_SIGNER_H_

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace ringo::deploy {

class Signer {
 public:
  struct Signatures {
    std::string current;  // base64, by the current key
    std::string next;     // base64, by the next key; empty when no rotation is under way
  };
  struct PublicKeys {
    std::string current;  // base64 of the raw 32 bytes
    std::string next;     // empty when no rotation is under way
  };

  Signer(store::Store* store, std::filesystem::path file);
  ~Signer();

  // Loads the stored keys, or stores the file's key (or a new one) when the store has none. A
  // file that differs from the store's current key is refused, unless it holds a key the store
  // retired in a rotation (then it is replaced).
  Status Load();
  // Re-reads the stored keys if they changed since the last look (another server rotated them);
  // looks at most once a second. True when the keys changed.
  bool Refresh();
  // Starts a rotation (a new next key, signing beside the current one) or, with `finish`, ends
  // it (the next key becomes the only one; the old one is retired).
  Status Rotate(bool finish);

  Signatures Sign(std::string_view body) const;
  PublicKeys Keys() const;

 private:
  struct KeySet;
  std::shared_ptr<const KeySet> Current() const;
  Status Adopt(const std::string& value, int64_t revision);
  Status WriteFileCopy(const std::string& pem) const;

  store::Store* store_;
  std::filesystem::path file_;
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> keys_;  // guarded by mu_; replaced, never changed
  int64_t revision_ = 0;                // of the stored document the keys came from
  std::atomic<int64_t> last_look_ms_{0};
};

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_SIGNER_H_
