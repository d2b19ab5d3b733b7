// `ringo store backup|restore`: a consistent copy of a store while its server runs, and putting
// one back.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/util.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::cli {

namespace {

namespace fs = std::filesystem;

struct StoreFlags {
  std::string dir, store = "ringo-data", backend_store_uri, artifacts;
};

// Where a store's parts are, as `ringo server` finds them from the same flags.
struct StorePaths {
  fs::path db, artifacts, deploy;
};

Result<StorePaths> Locate(const StoreFlags& f) {
  StorePaths p;
  fs::path base = f.store;
  if (!f.backend_store_uri.empty()) {
    const std::string scheme = "sqlite:///";
    if (f.backend_store_uri.rfind(scheme, 0) != 0) {
      return InvalidArgument("unsupported --backend-store-uri '" + f.backend_store_uri +
                             "': only sqlite:///PATH (for PostgreSQL, use pg_dump)");
    }
    p.db = f.backend_store_uri.substr(scheme.size());
    base = p.db.parent_path().empty() ? fs::path(".") : p.db.parent_path();
  } else {
    p.db = base / "ringo.db";
  }
  p.artifacts = f.artifacts.empty() ? base / "artifacts" : fs::path(f.artifacts);
  p.deploy = base / "deploy";
  return p;
}

// Copies a directory tree; files a writer is still producing (".tmp-*") are left out, symlinks
// are refused (the store never makes them). Counts what it copied.
Status CopyTree(const fs::path& from, const fs::path& to, int64_t* files, int64_t* bytes) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return Status::Ok();
  fs::create_directories(to, ec);
  if (ec) return Internal("cannot create '" + to.string() + "': " + ec.message());
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path rel = fs::relative(it->path(), from);
    if (it->path().filename().string().rfind(".tmp-", 0) == 0) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink()) return FailedPrecondition("'" + it->path().string() + "' is a symlink");
    if (it->is_directory()) {
      fs::create_directories(to / rel, ec);
    } else if (it->is_regular_file()) {
      fs::copy_file(it->path(), to / rel, fs::copy_options::none, ec);
      if (!ec) {
        ++*files;
        *bytes += int64_t(it->file_size());
      }
    }
    if (ec) return Internal("cannot copy '" + it->path().string() + "': " + ec.message());
  }
  if (ec) return Internal("cannot read '" + from.string() + "': " + ec.message());
  return Status::Ok();
}

Status Backup(const StoreFlags& f) {
  ASSIGN_OR_RETURN(StorePaths p, Locate(f));
  fs::path dest = f.dir;
  std::error_code ec;
  if (fs::exists(dest, ec) && !fs::is_empty(dest, ec)) {
    return AlreadyExists("'" + dest.string() + "' exists and is not empty");
  }
  fs::create_directories(dest, ec);
  if (ec) return Internal("cannot create '" + dest.string() + "': " + ec.message());
  // The database first: files are only ever added before the rows naming them commit, so every
  // file the snapshot refers to is there when the trees are copied after it.
  RETURN_IF_ERROR(store::BackupSqliteDatabase(p.db.string(), (dest / "ringo.db").string()));
  ASSIGN_OR_RETURN(int schema, store::CheckSqliteDatabase((dest / "ringo.db").string()));
  int64_t files = 0, bytes = 0;
  // Artifacts in S3 stay there: the bucket's own versioning or replication keeps them.
  bool s3 = f.artifacts.rfind("s3://", 0) == 0;
  if (!s3) RETURN_IF_ERROR(CopyTree(p.artifacts, dest / "artifacts", &files, &bytes));
  RETURN_IF_ERROR(CopyTree(p.deploy, dest / "deploy", &files, &bytes));
  if (s3) std::cout << "artifacts in " << f.artifacts << " are not copied (they stay in S3)\n";
  std::ofstream(dest / "BACKUP.json")
      << "{\"created\": " << NowMillis() << ", \"schema_version\": " << schema
      << ", \"files\": " << files << ", \"bytes\": " << bytes << "}\n";
  std::cout << "backed up " << p.db.string() << " (schema " << schema << ") and " << files
            << " files (" << bytes << " bytes) to " << dest.string() << "\n";
  return Status::Ok();
}

Status Restore(const StoreFlags& f) {
  fs::path src = f.dir;
  ASSIGN_OR_RETURN(int schema, store::CheckSqliteDatabase((src / "ringo.db").string()));
  ASSIGN_OR_RETURN(StorePaths p, Locate(f));
  std::error_code ec;
  if (fs::exists(p.db, ec)) {
    return AlreadyExists("'" + p.db.string() + "' holds a store already; restore into a new "
                         "directory (the store is never overwritten)");
  }
  fs::create_directories(p.db.parent_path().empty() ? fs::path(".") : p.db.parent_path(), ec);
  int64_t files = 0, bytes = 0;
  if (f.artifacts.rfind("s3://", 0) != 0) {
    RETURN_IF_ERROR(CopyTree(src / "artifacts", p.artifacts, &files, &bytes));
  }
  RETURN_IF_ERROR(CopyTree(src / "deploy", p.deploy, &files, &bytes));
  // The database last, through a temporary name: a store appears only when it is whole.
  fs::path tmp = p.db;
  tmp += ".restoring";
  fs::copy_file(src / "ringo.db", tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, p.db, ec);
  if (ec) return Internal("cannot write '" + p.db.string() + "': " + ec.message());
  std::cout << "restored " << src.string() << " (schema " << schema << ") and " << files
            << " files (" << bytes << " bytes) into " << p.db.parent_path().string() << "\n";
  return Status::Ok();
}

void AddStoreFlags(CLI::App* cmd, StoreFlags* f) {
  cmd->add_option("--store", f->store, "Directory holding ringo.db and artifacts/ (as ringo server)");
  cmd->add_option("--backend-store-uri", f->backend_store_uri, "sqlite:///PATH (as ringo server)");
  cmd->add_option("--artifacts-destination", f->artifacts, "Artifacts directory (as ringo server; s3:// artifacts are not copied)");
}

}  // namespace

void AddStoreCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<StoreFlags>();
  auto* store = app.add_subcommand(
      "store", "Back up or restore a store (SQLite + files), or copy it to other engines");
  store->require_subcommand(1);
  auto* backup = store->add_subcommand(
      "backup", "Copy the store to DEST while its server may run: a consistent snapshot");
  backup->add_option("dest", f->dir, "A new (or empty) directory")->required();
  AddStoreFlags(backup, f.get());
  OnRun(backup, &ctx, [f] {
    Status s = Backup(*f);
    return s.ok() ? 0 : Fail(s);
  });
  auto* restore = store->add_subcommand(
      "restore", "Put a backup back as a new store (never over an existing one)");
  restore->add_option("src", f->dir, "A directory made by ringo store backup")->required();
  AddStoreFlags(restore, f.get());
  OnRun(restore, &ctx, [f] {
    Status s = Restore(*f);
    return s.ok() ? 0 : Fail(s);
  });
  AddStoreCopyCommand(store, ctx);
}

}  // namespace ringo::cli
