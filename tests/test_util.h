#pragma once
#include <string>
namespace flops::test {
// ../shared/data relative to the source tree, or "" when absent (tests then skip).
std::string shared_data_dir();
std::string temp_dir();
}  // namespace flops::test
