// The web page: GET / and /static/<file>, from the files embedded at build time.
#include <cstring>

#include "server/context.h"
#include "server/web_assets.h"

namespace flops::server {

namespace {

const WebAsset* find_asset(const std::string& path) {
  for (size_t i = 0; i < kWebAssetCount; i++)
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

void serve_asset(const std::string& path, httplib::Response& res) {
  const WebAsset* a = find_asset(path);
  if (!a) throw ApiError(404, "No such file: /static/" + path, "not_found_error");
  res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->mime);
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

void add_web_routes(httplib::Server& s, Context& c) {
  s.Get("/", wrap(c, "/", [](auto&, auto& r) { serve_asset("index.html", r); }));
  s.Get("/index.html", wrap(c, "/", [](auto&, auto& r) { serve_asset("index.html", r); }));
  s.Get(R"(/static/([A-Za-z0-9_.\-]+))", wrap(c, "/static", [](auto& q, auto& r) { serve_asset(q.matches[1], r); }));
}

}  // namespace flops::server
