#pragma once
// What every route handler shares: the model, the scheduler, limits, counters.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "model/json_constraint.h"
#include "model/model.h"
#include "server/api_error.h"
#include "model/chat_template.h"
#include "server/lora_registry.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "server/server.h"
#include "server/usage.h"

namespace flops::server {

struct Context {
  const Model& m;
  ServerOptions o;
  Limits lim;
  Scheduler& sched;
  std::mutex& engine_mu;
  UsageContext usage;
  ChatTemplate chat;
  std::string model_id;
  double t_start = 0;
  Metrics metrics;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  LoraRegistry* loras = nullptr;  // --lora-dir: adapters requests may name
};

// Runs a route: counts it, turns ApiError / flops::Error / anything else into OpenAI-shaped errors.
using Route = std::function<void(const httplib::Request&, httplib::Response&)>;
httplib::Server::Handler wrap(Context& c, const std::string& name, Route r);
void send_json(httplib::Response& res, const nlohmann::json& j, int status = 200);
void send_error(httplib::Response& res, const ApiError& e);
std::string random_id(const std::string& prefix);
// The request's model must be ours (its id, file name or path).
void check_model(const Context& c, const std::string& model);

void add_openai_routes(httplib::Server& s, Context& c);
void add_flops_routes(httplib::Server& s, Context& c);
void add_web_routes(httplib::Server& s, Context& c);
void add_search_routes(httplib::Server& s, Context& c);  // routes_search.cpp

}  // namespace flops::server
