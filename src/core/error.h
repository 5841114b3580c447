#pragma once
// Every user-facing failure is an flops::Error whose what() is one line naming the problem.
#include <stdexcept>
#include <string>
#include <fmt/format.h>

namespace flops {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace flops
