#pragma once
// Source files -> documents (title, text, metadata), one parser per format:
//   .txt                plain text; title = the file name without extension
//   .md / .markdown     title = the first "# heading" (taken out of the text)
//   .html / .htm        tags dropped, <script>/<style> bodies skipped, entities decoded, block
//                       elements become paragraph breaks; title = <title> (or the first <h1>)
//   .jsonl              one JSON object a line: text in "text" (or "contents", "body", "content"),
//                       optional "title", key "_id" (or "id", "docid"; else the line number)
//   beir                BEIR corpus.jsonl: "_id" and "text" required, "title" and "metadata" kept
//   smart               SMART tagged records (Cranfield): ".I id", then ".T" title, ".A" authors,
//                       ".B" source, ".W" text, each running to the next tag; CRLF accepted. Cranfield
//                       repeats the title at the start of .W: that copy is taken out of the text.
// Binary files (a NUL byte) and invalid UTF-8 are refused with the file name and byte offset.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace flops::search {

enum class InputFormat { Auto, Text, Markdown, Html, Jsonl, Beir, Smart };

struct SourceDoc {
  std::string key;     // the document's id inside its file ("" when the file is one document)
  std::string title;
  std::string text;
  nlohmann::json meta = nlohmann::json::object();
};

// "auto", "txt", "md", "html", "jsonl", "beir", "smart"; fails naming the value otherwise.
InputFormat parse_input_format(const std::string& name);
std::string format_name(InputFormat f);
// The format of a file: `given` unless Auto, else by extension; Auto back means "not a document"
// (a folder walk skips it).
InputFormat format_of_path(const std::string& path, InputFormat given);
bool is_document_extension(const std::string& path);

// Throws "PATH: binary file (NUL byte at offset N), not text" or "PATH: not valid UTF-8 (byte offset N)".
void check_text(const std::string& path, std::string_view content);

std::vector<SourceDoc> parse_documents(const std::string& path, std::string_view content, InputFormat f);

// Building blocks (tested on their own).
std::string html_to_text(std::string_view html, std::string* title = nullptr);
std::vector<SourceDoc> parse_smart(std::string_view content);
// Collapses runs of whitespace to one space and trims.
std::string normalize_space(std::string_view s);

}  // namespace flops::search
