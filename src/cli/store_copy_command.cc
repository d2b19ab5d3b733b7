// `ringo store copy`: a whole store moved to other engines (SQLite + files -> PostgreSQL + S3,
// or back), verified and resumable: the metadata table by table (store/copy), artifacts and
// deployment blobs file by file (artifacts::CopyTree).
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "artifacts/artifacts.h"
#include "cli/command.h"
#include "common/util.h"
#include "store/copy/copy.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::cli {

namespace {

namespace fs = std::filesystem;

struct CopyFlags {
  std::string from, to, artifacts_from, artifacts_to, s3_endpoint_url;
  bool resume = false;
  int64_t chunk_rows = 5000;
};

// A private directory for fetched copies (the object store's cache), removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "ringo-copy-XXXXXX").string();
    if (mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// One side of a copy: the database, and for a store directory its files.
struct Side {
  std::string uri;                     // sqlite:///PATH or postgresql://...
  std::optional<fs::path> directory;   // a store directory: ringo.db, artifacts/, deploy/
  std::string artifacts;               // a directory or s3://...; empty: none
};

Result<Side> ParseSide(const std::string& arg, const std::string& artifacts, bool dest) {
  Side side;
  side.artifacts = artifacts;
  if (arg.rfind("sqlite:///", 0) == 0 || store::IsPostgresUri(arg)) {
    side.uri = arg;
    return side;
  }
  if (arg.find("://") != std::string::npos) {
    return InvalidArgument("'" + arg + "' is not a store: give a store directory, "
                           "sqlite:///PATH or postgresql://...");
  }
  std::error_code ec;
  if (!dest && !fs::is_regular_file(fs::path(arg) / "ringo.db", ec)) {
    return NotFound("'" + arg + "' holds no store (no ringo.db)");
  }
  side.directory = fs::path(arg);
  side.uri = "sqlite:///" + (fs::path(arg) / "ringo.db").string();
  if (side.artifacts.empty()) side.artifacts = (fs::path(arg) / "artifacts").string();
  return side;
}

Result<std::unique_ptr<store::Tables>> OpenTables(const Side& side, bool writable) {
  if (store::IsPostgresUri(side.uri)) return store::OpenPostgresTables(side.uri, writable);
  std::string path = side.uri.substr(std::string("sqlite:///").size());
  if (writable) {
    std::error_code ec;
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
  }
  return store::OpenSqliteTables(path, writable);
}

Status CopyMetadata(const Side& from, const Side& to, const CopyFlags& f) {
  ASSIGN_OR_RETURN(auto source, OpenTables(from, false));
  ASSIGN_OR_RETURN(auto dest, OpenTables(to, true));
  store::CopyOptions options;
  options.resume = f.resume;
  options.chunk_rows = f.chunk_rows;
  options.progress = [last = std::string()](const std::string& table, int64_t rows) mutable {
    if (table != last) std::cout << "\n";
    last = table;
    std::cout << "\r  " << table << ": " << rows << " rows" << std::flush;
  };
  std::cout << "metadata: " << source->Describe() << " -> " << dest->Describe();
  ASSIGN_OR_RETURN(auto reports, store::CopyTables(*source, *dest, options));
  int64_t rows = 0, skipped = 0;
  for (const auto& r : reports) {
    rows += r.rows;
    skipped += r.skipped ? 1 : 0;
  }
  std::cout << "\nmetadata: " << reports.size() << " tables, " << rows << " rows verified"
            << (skipped ? " (" + std::to_string(skipped) + " tables already equal)" : "") << "\n";
  return Status::Ok();
}

Result<std::unique_ptr<artifacts::Repository>> OpenRepo(const std::string& where,
                                                        const CopyFlags& f,
                                                        const fs::path& cache) {
  ASSIGN_OR_RETURN(auto repo, artifacts::OpenRepository(where, f.s3_endpoint_url, cache));
  RETURN_IF_ERROR(repo->Init());
  return repo;
}

Status CopyFiles(const artifacts::Repository& from, std::string_view from_dir,
                 artifacts::Repository& to, std::string_view to_dir, const std::string& what) {
  std::cout << what << ": " << from.Describe() << " -> " << to.Describe() << "\n";
  ASSIGN_OR_RETURN(artifacts::CopyReport r,
                   artifacts::CopyTree(from, from_dir, to, to_dir, [](const auto& p) {
                     std::cout << "\r  " << p.files << " files" << std::flush;
                   }));
  std::cout << "\r" << what << ": " << r.files << " files, " << r.bytes << " bytes verified"
            << (r.skipped ? " (" + std::to_string(r.skipped) + " already there)" : "") << "\n";
  return Status::Ok();
}

// Artifacts, then the deployment blobs of a store directory: into the other store directory,
// or, for servers sharing an object store, where they all read them (_ringo/blobs).
Status CopyAllFiles(const Side& from, const Side& to, const CopyFlags& f) {
  if (from.artifacts.empty()) return Status::Ok();
  if (to.artifacts.empty()) {
    return InvalidArgument("--artifacts-to is needed to copy the artifacts of " +
                           from.artifacts + " (a directory or s3://bucket/prefix)");
  }
  ScratchDir cache;
  if (cache.path().empty()) return Internal("cannot create a temporary directory");
  ASSIGN_OR_RETURN(auto src, OpenRepo(from.artifacts, f, cache.path() / "from"));
  ASSIGN_OR_RETURN(auto dst, OpenRepo(to.artifacts, f, cache.path() / "to"));
  RETURN_IF_ERROR(CopyFiles(*src, "", *dst, "", "artifacts"));
  if (!from.directory) return Status::Ok();
  artifacts::LocalRepository blobs(*from.directory / "deploy" / "blobs");
  if (to.directory) {
    artifacts::LocalRepository to_blobs(*to.directory / "deploy" / "blobs");
    RETURN_IF_ERROR(to_blobs.Init());
    return CopyFiles(blobs, "", to_blobs, "", "deployment blobs");
  }
  if (!dst->IsShared()) {
    std::cout << "deployment blobs: not copied (no store directory on the destination side); "
                 "they are packed again when a deployment is made\n";
    return Status::Ok();
  }
  return CopyFiles(blobs, "", *dst, "_ringo/blobs", "deployment blobs");
}

Status Copy(const CopyFlags& f) {
  if (f.chunk_rows < 2) return InvalidArgument("--chunk-rows must be at least 2");
  ASSIGN_OR_RETURN(Side from, ParseSide(f.from, f.artifacts_from, false));
  ASSIGN_OR_RETURN(Side to, ParseSide(f.to, f.artifacts_to, true));
  if (from.uri == to.uri) return InvalidArgument("--from and --to name the same store");
  RETURN_IF_ERROR(CopyMetadata(from, to, f));
  return CopyAllFiles(from, to, f);
}

}  // namespace

void AddStoreCopyCommand(CLI::App* store, Context& ctx) {
  auto f = std::make_shared<CopyFlags>();
  auto* copy = store->add_subcommand(
      "copy", "Copy a whole store to other engines (e.g. SQLite + files -> PostgreSQL + S3), "
              "verified; run again to resume");
  copy->add_option("--from", f->from, "A store directory, sqlite:///PATH or postgresql://...")
      ->required();
  copy->add_option("--to", f->to, "A store directory, sqlite:///PATH or postgresql://...")
      ->required();
  copy->add_option("--artifacts-from", f->artifacts_from,
                   "Artifacts to copy: a directory or s3://bucket/prefix (default: the "
                   "--from directory's artifacts/)");
  copy->add_option("--artifacts-to", f->artifacts_to,
                   "Where the artifacts go: a directory or s3://bucket/prefix (default: the "
                   "--to directory's artifacts/)");
  copy->add_option("--s3-endpoint-url", f->s3_endpoint_url, "S3-compatible endpoint");
  copy->add_flag("--resume", f->resume,
                 "Continue an interrupted copy into a destination that already holds its rows");
  copy->add_option("--chunk-rows", f->chunk_rows, "Rows per read and per transaction");
  OnRun(copy, &ctx, [f] {
    Status s = Copy(*f);
    return s.ok() ? 0 : Fail(s);
  });
}

}  // namespace ringo::cli
