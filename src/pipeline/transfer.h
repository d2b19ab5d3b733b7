// Path and address logic of steps whose files travel through the artifact store (private to
// pipeline/): moving paths from the project to a scratch directory, and loopback addresses.
#ifndef RINGO_PIPELINE_TRANSFER_H_
#define RINGO_PIPELINE_TRANSFER_H_

#include <string>

namespace ringo::pipeline {

// `text` with every path inside `root` moved: "<root>" alone becomes `as_root`, "<root>/rest"
// becomes `as_prefix` + "rest". A match must start and end at a path boundary, so
// "<root>-old/x" and "x<root>" are left alone. `root` is normalized and has no final '/'.
std::string RebasePaths(const std::string& text, const std::string& root,
                        const std::string& as_root, const std::string& as_prefix);

// True when a URI's host is a loopback address (localhost, 127.0.0.0/8, ::1): another machine
// cannot reach a server by it.
bool IsLoopbackUri(const std::string& uri);

// True for a relative path that stays inside the directory it is relative to: not empty, not
// absolute, no ".." component.
bool IsInsidePath(const std::string& path);

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_TRANSFER_H_
