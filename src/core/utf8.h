#pragma once
// UTF-8 well-formedness, shared by every place that accepts text from a user.
#include <cstddef>
#include <string_view>

namespace flops {

// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, surrogates or
// values above U+10FFFF), or npos when the whole text is valid.
size_t utf8_invalid_offset(std::string_view s);

}  // namespace flops
