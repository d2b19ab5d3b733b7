// The web UI's files, embedded in the binary at build time (cmake/embed_files.cmake).
#ifndef RINGO_API_UI_ASSETS_H_
#define RINGO_API_UI_ASSETS_H_

#include <cstddef>

namespace ringo::api {

struct UiAsset {
  const char* path;  // "/index.html", "/assets/index-3f2a.js"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

// The embedded files, terminated by an entry whose path is nullptr. Empty when the UI was not
// built (no Node.js at build time, or RINGO_BUILD_UI=OFF).
const UiAsset* UiAssets();

}  // namespace ringo::api

#endif  // RINGO_API_UI_ASSETS_H_
