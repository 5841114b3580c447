#pragma once
// Presenting detection results: JSON (byte-offset spans) and terminal text with the
// sentences that drive the verdict coloured.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "detect/detector.h"

namespace flops::detect {

// Everything in a Detection plus the sentences' text; spans are byte offsets into `text`.
nlohmann::json to_json(const Detection& d, std::string_view text);
// Per-token and per-sentence scores of an analysis (tok decodes the pieces).
nlohmann::json analysis_json(const Analysis& a, const Tokenizer& tok, std::string_view text, bool with_tokens);

// The verdict block: verdict, score vs thresholds, calibration, warnings.
std::string render_verdict(const Detection& d);
// The text with AI-leaning sentences in red and human-leaning ones in green (ANSI colours),
// or, without colour, one line per sentence prefixed with its lean and score.
std::string render_sentences(const Detection& d, std::string_view text, bool color);

}  // namespace flops::detect
