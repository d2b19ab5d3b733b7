// Safe relative paths: the only way user-supplied names become filesystem paths.
#ifndef RINGO_COMMON_PATHS_H_
#define RINGO_COMMON_PATHS_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ringo {

// Validates a user-supplied relative path ("a/b/c.txt") and returns it normalised (no empty,
// "." segments, no trailing slash). Rejects with kInvalidArgument: absolute paths, ".."
// segments, NUL or control bytes, backslashes, Windows drive prefixes, and bytes that are not
// well-formed UTF-8. An empty path is
// valid and means the root.
Result<std::string> CleanRelativePath(std::string_view path);

// Joins root and a CleanRelativePath result, then checks that no existing component of the
// result is a symlink leading outside `root` (kInvalidArgument if one does).
Result<std::filesystem::path> ResolveUnder(const std::filesystem::path& root,
                                           std::string_view relative);

// Writes `data` to `path` atomically (temporary file in the same directory, fsync, rename).
// Creates parent directories. kInternal with errno text on failure.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data);

}  // namespace ringo

#endif  // RINGO_COMMON_PATHS_H_
