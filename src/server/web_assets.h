#pragma once
// The web page's files (web/), embedded in the binary at build time by scripts/embed_web.cmake,
// so the page works offline and without a checkout.
#include <cstddef>

namespace flops::server {

struct WebAsset {
  const char* path;  // "index.html", "app.js", ...
  const char* mime;
  const unsigned char* data;
  size_t size;
};

extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

}  // namespace flops::server
