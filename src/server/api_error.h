#pragma once
// Errors answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the
// HTTP status that goes with them. Request parsing and routes throw ApiError; the server turns
// it into the response.
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flops::server {

struct ApiError : std::runtime_error {
  int status;
  std::string type, param, code;
  ApiError(int status_, std::string message, std::string type_ = "invalid_request_error", std::string param_ = "",
           std::string code_ = "")
      : std::runtime_error(std::move(message)), status(status_), type(std::move(type_)), param(std::move(param_)),
        code(std::move(code_)) {}
};

// 400 naming the field.
template <typename... Args>
[[noreturn]] inline void bad_field(const std::string& field, fmt::format_string<Args...> f, Args&&... args) {
  throw ApiError(400, fmt::format(f, std::forward<Args>(args)...), "invalid_request_error", field, "invalid_value");
}

inline nlohmann::json error_body(int status, const std::string& message, const std::string& type,
                                 const std::string& param = "", const std::string& code = "") {
  nlohmann::json e = {{"message", message}, {"type", type}};
  e["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  e["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  return {{"error", e}};
}
inline nlohmann::json error_body(const ApiError& e) { return error_body(e.status, e.what(), e.type, e.param, e.code); }

// The error type OpenAI uses for a status.
inline std::string error_type_for(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 408: return "timeout_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "server_overloaded";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace flops::server
