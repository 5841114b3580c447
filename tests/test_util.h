#pragma once
#include <cstdint>
#include <string>
#include <vector>
namespace flops::test {
// ../shared/data relative to the source tree, or "" when absent (tests then skip).
std::string shared_data_dir();
std::string temp_dir();
// Runs a shell command; its exit code, stdout and stderr.
struct CommandRun {
  int code = 0;
  std::string out, err;
};
CommandRun run_command(const std::string& cmd);
// llama.cpp's tokenizer test vectors (ggml-vocab-NAME.gguf.inp / .out). Inputs are separated by
// lines "__ggml_vocab_test__"; an input is the lines between two separators joined by "\n" (so it
// does not include the newline that precedes the separator). Outputs: one line of ids per input.
std::vector<std::string> read_vocab_test_inputs(const std::string& path);
std::vector<std::vector<int32_t>> read_vocab_test_outputs(const std::string& path);
}  // namespace flops::test
