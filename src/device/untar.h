// Safe extraction of the ustar archives the server makes of .mlpackage directories.
#ifndef RINGO_DEVICE_UNTAR_H_
#define RINGO_DEVICE_UNTAR_H_

#include <string>

namespace ringo::device {

// Extracts the ustar archive at `archive` into the existing directory `dest`. Only regular files and
// directories are accepted, every entry must be a relative path without "." / ".." components under
// one top-level directory, and nothing is followed or overwritten: any other entry (symlink, hard
// link, device, pax or GNU extension), a bad checksum or a truncated archive fails the whole
// extraction. Files are fsynced. On success returns "" and sets *top to the top-level directory
// name; on failure returns a message (`dest` may hold a partial tree for the caller to delete).
std::string ExtractTar(const std::string& archive, const std::string& dest, std::string* top);

}  // namespace ringo::device

#endif  // RINGO_DEVICE_UNTAR_H_
