#pragma once
// Python's str methods over UTF-8 text, counted in code points as Python counts them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flops::jinja::py {

std::vector<uint32_t> code_points(std::string_view s);
std::string from_code_points(const uint32_t* cps, size_t n);
size_t cp_count(std::string_view s);
// Byte offset of code point i (i <= cp_count).
size_t cp_offset(std::string_view s, size_t i);

bool isspace(uint32_t cp);  // str.isspace of one character
// str.strip / lstrip / rstrip; chars unset = whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep, maxsplit) (sep unset = runs of whitespace) and rsplit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
// str.splitlines(keepends)
std::vector<std::string> splitlines(std::string_view s, bool keepends = false);
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count = -1);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
std::string title(std::string_view s);
std::string capitalize(std::string_view s);
std::string swapcase(std::string_view s);
// str.find / rfind / count in code points (-1 when absent).
int64_t find(std::string_view s, std::string_view sub, bool reverse = false);
int64_t count(std::string_view s, std::string_view sub);
bool all_chars(std::string_view s, bool (*pred)(uint32_t));
bool isalpha(uint32_t cp);
bool isdigit(uint32_t cp);
bool isalnum(uint32_t cp);
bool islower_str(std::string_view s);
bool isupper_str(std::string_view s);
// repr() of a str: quotes chosen as Python chooses them, non-printable characters escaped.
std::string repr(std::string_view s);
// Python's repr() of a float ("1.0", "0.30000000000000004", "1e+20", "inf", "nan").
std::string float_repr(double x);

}  // namespace flops::jinja::py
