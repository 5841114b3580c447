#pragma once
// Streaming answers as server-sent events: one `data: {json}` event per chunk of new text,
// the usage chunk last, then `data: [DONE]`. A client that goes away makes a write fail, which
// cancels its jobs (their slots are free at the next step); a comment line every second while
// nothing is produced finds such a client even when no token is coming.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/context.h"

namespace flops::server {

struct StreamSpec {
  std::vector<std::shared_ptr<Job>> jobs;
  bool with_logprobs = false;
  // The chunk of choice i: its new text and tokens; first: the choice's first chunk;
  // finish: "" while it runs, else its finish reason.
  std::function<nlohmann::json(size_t i, const std::string& text, const std::vector<TokenInfo>& toks, bool first,
                               const std::string& finish)>
      chunk;
  std::function<nlohmann::json(const std::vector<std::shared_ptr<Job>>&)> usage;  // empty: no usage chunk
};

void start_stream(Context& c, httplib::Response& res, StreamSpec spec);

}  // namespace flops::server
