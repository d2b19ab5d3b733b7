// The model registry's own logic, beside MLflow's registry API (api) and delivery (deploy):
// where a version's source lives in the artifact store, what ringo records of a Core ML source
// when a version is created (its inspection, content digest and size), and the one way a model's
// bytes leave the registry for devices (a file as it is, a package as a deterministic archive),
// read in one pass that also re-checks the registered digest.
#ifndef RINGO_REGISTRY_REGISTRY_H_
#define RINGO_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "artifacts/artifacts.h"
#include "common/status.h"
#include "store/store.h"

namespace ringo::registry {

// The Core ML model a registry source refers to in ringo's artifact store: `runs:/<run>/<path>`,
// `mlflow-artifacts:...` or MLflow 3's `models:/<model_id>`, naming a .mlmodel/.mlpackage or a
// directory holding one (searched two levels deep). kFailedPrecondition when the source is
// outside the store or holds no model; kNotFound for an unknown run; kInvalidArgument for
// escaping paths.
Result<std::filesystem::path> ResolveModelSource(store::Store* store,
                                                 artifacts::LocalRepository* artifacts,
                                                 const std::string& source);

// Completes a version about to be created from what its source holds: the run id of a runs:/
// source; for a Core ML model in the store, `coreml` (inspect's JSON summary), `size`, and the
// content digest (`sha256` of a file, `tree_sha256` of a package; common/hash.h). Like MLflow,
// any source is accepted: one outside the store or without a model is left unread, and an
// unreadable Core ML model is recorded as {"problem": ...}. kInvalidArgument only for a source
// with "..".
Status DescribeSource(store::Store* store, artifacts::LocalRepository* artifacts,
                      store::ModelVersion* version);

// Model files are shipped as they are on disk; a symbolic link (at the top or inside a
// package) could carry any file the server can read, so none is followed: kInvalidArgument
// naming the link.
Status RefuseSymlinks(const std::filesystem::path& model);

// What PackModel produced.
struct Packed {
  std::string format;          // "mlmodel" (the file) or "mlpackage.tar"
  std::string sha256;          // of the bytes given to the sink
  std::string content_digest;  // the registry's digest of the model: file sha256 or tree hash
  int64_t size = 0;            // bytes given to the sink
};

// Streams the bytes a device receives for `model` to `sink` in chunks (never the whole model in
// memory): a .mlmodel file as it is; a .mlpackage directory as a ustar archive with sorted
// entries, mtime 0 and owner 0, so one package always archives to the same bytes. Each file is
// read once, for the archive and for both digests. Refuses symlinks and names an extractor could
// place outside its folder (kInvalidArgument); a sink error stops the stream and is returned.
Result<Packed> PackModel(const std::filesystem::path& model,
                         const std::function<Status(std::string_view)>& sink);

}  // namespace ringo::registry

#endif  // RINGO_REGISTRY_REGISTRY_H_
