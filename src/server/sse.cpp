#include "server/sse.h"

#include <chrono>

namespace flops::server {

using nlohmann::json;

namespace {

struct StreamState {
  StreamSpec spec;
  std::vector<size_t> seen_text, seen_tokens;
  std::vector<bool> started, ended;
  double last_write = 0;
  bool finished = false;
};

std::string event(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

}  // namespace

void start_stream(Context& c, httplib::Response& res, StreamSpec spec) {
  auto st = std::make_shared<StreamState>();
  const size_t n = spec.jobs.size();
  st->spec = std::move(spec);
  st->seen_text.assign(n, 0);
  st->seen_tokens.assign(n, 0);
  st->started.assign(n, false);
  st->ended.assign(n, false);
  st->last_write = steady_seconds();
  c.in_flight++;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [st, &c](size_t, httplib::DataSink& sink) {
        auto& jobs = st->spec.jobs;
        // Wait for news from the first unfinished job (others are picked up on the way).
        for (size_t i = 0; i < jobs.size(); i++)
          if (!st->ended[i]) {
            jobs[i]->wait_output(st->seen_text[i], st->seen_tokens[i], jobs.size() == 1 ? 1.0 : 0.05);
            break;
          }
        std::string out;
        bool all_ended = true;
        for (size_t i = 0; i < jobs.size(); i++) {
          if (st->ended[i]) continue;
          Job& j = *jobs[i];
          std::string text, reason, error;
          std::vector<TokenInfo> toks;
          bool done;
          {
            std::lock_guard<std::mutex> lk(j.mu);
            text = j.text.substr(st->seen_text[i]);
            if (st->spec.with_logprobs) toks.assign(j.tokens.begin() + st->seen_tokens[i], j.tokens.end());
            st->seen_text[i] = j.text.size();
            st->seen_tokens[i] = j.tokens.size();
            done = j.done;
            reason = j.finish_reason;
            error = j.error;
          }
          if (!st->started[i]) {
            out += event(st->spec.chunk(i, "", {}, true, ""));
            st->started[i] = true;
          }
          if (!text.empty() || !toks.empty()) out += event(st->spec.chunk(i, text, toks, false, ""));
          if (done) {
            st->ended[i] = true;
            if (reason == "stop" || reason == "length") {
              out += event(st->spec.chunk(i, "", {}, false, reason));
            } else {
              int status = reason == "timeout" ? 408 : reason == "error" ? 500 : 503;
              out += event(error_body(status, error.empty() ? "the request was " + reason : error, error_type_for(status)));
            }
          } else {
            all_ended = false;
          }
        }
        if (all_ended) {
          if (st->spec.usage) out += event(st->spec.usage(jobs));
          out += "data: [DONE]\n\n";
        }
        double now = steady_seconds();
        if (out.empty() && now - st->last_write > 1.0) out = ": keep-alive\n\n";
        if (!out.empty()) {
          if (!sink.write(out.data(), out.size())) {
            for (auto& j : jobs) j->cancel = true;
            return false;
          }
          st->last_write = now;
        }
        if (all_ended) {
          st->finished = true;
          sink.done();
        }
        return true;
      },
      [st, &c](bool success) {
        if (!success || !st->finished)
          for (auto& j : st->spec.jobs) j->cancel = true;
        c.in_flight--;
      });
}

}  // namespace flops::server
