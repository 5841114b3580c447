#include "search/parse.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/utf8.h"

namespace flops::search {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string lower_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
  return s;
}

// End of `prefix` inside `text` when text starts with it up to whitespace, else npos.
size_t prefix_end_ignoring_space(std::string_view text, std::string_view prefix) {
  size_t i = 0, j = 0;
  while (true) {
    while (i < text.size() && is_space(text[i])) i++;
    while (j < prefix.size() && is_space(prefix[j])) j++;
    if (j == prefix.size()) return i;
    if (i == text.size() || text[i] != prefix[j]) return std::string_view::npos;
    i++, j++;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += (char)cp;
  } else if (cp < 0x800) {
    out += (char)(0xC0 | cp >> 6), out += (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += (char)(0xE0 | cp >> 12), out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
  } else {
    out += (char)(0xF0 | cp >> 18), out += (char)(0x80 | ((cp >> 12) & 0x3F));
    out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
  }
}

// Decodes the entity starting at s[i] == '&'; returns the characters consumed (0: not an entity).
size_t decode_entity(std::string_view s, size_t i, std::string& out) {
  size_t semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 10) return 0;
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (name.size() >= 2 && name[0] == '#') {
    uint32_t cp = 0;
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int v = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return 0;
      cp = cp * (hex ? 16 : 10) + (uint32_t)v;
      if (cp > 0x10FFFF) cp = 0x110000;
    }
    append_utf8(out, cp);
    return semi - i + 1;
  }
  static const std::pair<std::string_view, uint32_t> named[] = {
      {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
      {"nbsp", ' '},      {"mdash", 0x2014},  {"ndash", 0x2013},  {"hellip", 0x2026}, {"copy", 0xA9},
      {"reg", 0xAE},      {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"ldquo", 0x201C},  {"rdquo", 0x201D},
      {"eacute", 0xE9},   {"egrave", 0xE8},   {"aacute", 0xE1},   {"uuml", 0xFC},     {"ouml", 0xF6},
      {"auml", 0xE4},     {"szlig", 0xDF},    {"times", 0xD7},    {"deg", 0xB0},      {"middot", 0xB7}};
  for (auto& [n, cp] : named)
    if (name == n) {
      append_utf8(out, cp);
      return semi - i + 1;
    }
  return 0;
}

bool is_block_tag(std::string_view t) {
  static const std::string_view blocks[] = {"p",     "div",   "br",    "li",      "ul",         "ol",     "h1",
                                            "h2",    "h3",    "h4",    "h5",      "h6",         "tr",     "table",
                                            "section", "article", "header", "footer", "blockquote", "pre", "hr",
                                            "dd",    "dt",    "main",  "nav",     "aside",      "figure", "td"};
  return std::find(std::begin(blocks), std::end(blocks), t) != std::end(blocks);
}

// Collapses spaces inside lines, keeps paragraph breaks (at most one blank line).
std::string tidy_paragraphs(const std::string& s) {
  std::string out;
  int newlines = 0;
  bool pending_space = false;
  for (char c : s) {
    if (c == '\n') {
      newlines++;
      pending_space = false;
      continue;
    }
    if (is_space(c)) {
      pending_space = true;
      continue;
    }
    if (!out.empty()) {
      if (newlines >= 2) out += "\n\n";
      else if (newlines == 1) out += "\n";
      else if (pending_space) out += ' ';
    }
    newlines = 0;
    pending_space = false;
    out += c;
  }
  return out;
}

std::string json_key(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.dump();
}

std::vector<SourceDoc> parse_jsonl(const std::string& path, std::string_view content, bool beir) {
  std::vector<SourceDoc> docs;
  size_t pos = 0;
  int line_no = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    line_no++;
    if (std::all_of(line.begin(), line.end(), is_space)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      fail("{} line {}: not valid JSON ({})", path, line_no, e.what());
    }
    if (!j.is_object()) fail("{} line {}: expected a JSON object", path, line_no);
    SourceDoc d;
    const char* key_fields[] = {"_id", "id", "docid"};
    const char* text_fields[] = {"text", "contents", "body", "content"};
    for (const char* k : key_fields)
      if (j.contains(k) && !j[k].is_null()) {
        d.key = json_key(j[k]);
        break;
      }
    bool has_text = false;
    for (const char* k : text_fields)
      if (j.contains(k) && j[k].is_string()) {
        d.text = j[k].get<std::string>();
        has_text = true;
        break;
      }
    if (beir && (!j.contains("_id") || !has_text || !j.contains("text")))
      fail("{} line {}: a BEIR corpus line needs \"_id\" and \"text\"", path, line_no);
    if (!has_text) fail("{} line {}: no text field (looked for text, contents, body, content)", path, line_no);
    if (d.key.empty()) d.key = "line " + std::to_string(line_no);
    if (j.contains("title") && j["title"].is_string()) d.title = j["title"].get<std::string>();
    if (j.contains("metadata") && j["metadata"].is_object()) d.meta = j["metadata"];
    docs.push_back(std::move(d));
  }
  return docs;
}

}  // namespace

std::string normalize_space(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

InputFormat parse_input_format(const std::string& n) {
  if (n == "auto") return InputFormat::Auto;
  if (n == "txt" || n == "text") return InputFormat::Text;
  if (n == "md" || n == "markdown") return InputFormat::Markdown;
  if (n == "html") return InputFormat::Html;
  if (n == "jsonl") return InputFormat::Jsonl;
  if (n == "beir") return InputFormat::Beir;
  if (n == "smart") return InputFormat::Smart;
  fail("unknown --format '{}' (auto, txt, md, html, jsonl, beir, smart)", n);
}

std::string format_name(InputFormat f) {
  switch (f) {
    case InputFormat::Auto: return "auto";
    case InputFormat::Text: return "txt";
    case InputFormat::Markdown: return "md";
    case InputFormat::Html: return "html";
    case InputFormat::Jsonl: return "jsonl";
    case InputFormat::Beir: return "beir";
    case InputFormat::Smart: return "smart";
  }
  return "?";
}

InputFormat format_of_path(const std::string& path, InputFormat given) {
  if (given != InputFormat::Auto) return given;
  std::string ext = lower_ascii(std::filesystem::path(path).extension().string());
  if (ext == ".txt") return InputFormat::Text;
  if (ext == ".md" || ext == ".markdown") return InputFormat::Markdown;
  if (ext == ".html" || ext == ".htm") return InputFormat::Html;
  if (ext == ".jsonl") return InputFormat::Jsonl;
  return InputFormat::Auto;
}

bool is_document_extension(const std::string& path) { return format_of_path(path, InputFormat::Auto) != InputFormat::Auto; }

void check_text(const std::string& path, std::string_view content) {
  if (size_t z = content.find('\0'); z != std::string_view::npos)
    fail("{}: binary file (NUL byte at offset {}), not text", path, z);
  if (size_t bad = utf8_invalid_offset(content); bad != std::string::npos)
    fail("{}: not valid UTF-8 (byte offset {})", path, bad);
}

std::string html_to_text(std::string_view s, std::string* title) {
  std::string out;
  size_t i = 0;
  std::string* capture = nullptr;  // <title> or the first <h1> text goes here as well
  std::string title_text, h1_text;
  bool h1_done = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == '<') {
      if (s.compare(i, 4, "<!--") == 0) {
        size_t e = s.find("-->", i + 4);
        i = e == std::string_view::npos ? s.size() : e + 3;
        continue;
      }
      size_t e = s.find('>', i);
      if (e == std::string_view::npos) break;
      std::string_view tag = s.substr(i + 1, e - i - 1);
      bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.remove_prefix(1);
      size_t n = 0;
      while (n < tag.size() && (std::isalnum((unsigned char)tag[n]))) n++;
      std::string name = lower_ascii(std::string(tag.substr(0, n)));
      i = e + 1;
      if (!closing && (name == "script" || name == "style")) {
        std::string end_tag = "</" + name;
        size_t k = i;
        while (k < s.size()) {
          k = s.find("</", k);
          if (k == std::string_view::npos) break;
          if (lower_ascii(std::string(s.substr(k, end_tag.size()))) == end_tag) break;
          k += 2;
        }
        if (k == std::string_view::npos) {
          i = s.size();
        } else {
          size_t close = s.find('>', k);
          i = close == std::string_view::npos ? s.size() : close + 1;
        }
        continue;
      }
      if (name == "title") capture = closing ? nullptr : &title_text;
      if (name == "h1" && !h1_done) {
        if (closing) {
          h1_done = true;
          capture = nullptr;
        } else {
          capture = &h1_text;
        }
      }
      if (name == "title" && !closing) continue;  // the head's title is not body text
      if (is_block_tag(name)) out += "\n\n";
      else out += ' ';
      continue;
    }
    std::string piece;
    if (c == '&') {
      size_t n = decode_entity(s, i, piece);
      if (n == 0) {
        piece = "&";
        n = 1;
      }
      i += n;
    } else {
      piece = c;
      i++;
    }
    if (capture) *capture += piece;
    if (capture != &title_text) out += piece;
  }
  if (title) *title = normalize_space(!title_text.empty() ? title_text : h1_text);
  return tidy_paragraphs(out);
}

std::vector<SourceDoc> parse_smart(std::string_view content) {
  std::vector<SourceDoc> docs;
  std::string field;  // current tag letter
  std::string title, authors, source, text;
  bool open = false;
  auto flush = [&] {
    if (!open) return;
    SourceDoc& d = docs.back();
    d.title = normalize_space(title);
    if (size_t e = prefix_end_ignoring_space(text, d.title); !d.title.empty() && e != std::string_view::npos)
      text.erase(0, e);
    d.text = tidy_paragraphs(text);
    if (!authors.empty()) d.meta["authors"] = normalize_space(authors);
    if (!source.empty()) d.meta["source"] = normalize_space(source);
    title.clear(), authors.clear(), source.clear(), text.clear();
  };
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 2 && line[0] == '.' && std::isalpha((unsigned char)line[1]) &&
        (line.size() == 2 || line[2] == ' ' || line[2] == '\t')) {
      std::string tag(1, line[1]);
      if (tag == "I") {
        flush();
        docs.emplace_back();
        docs.back().key = normalize_space(line.substr(2));
        open = true;
        field.clear();
      } else {
        field = tag;
      }
      continue;
    }
    if (!open) continue;
    std::string* dst = field == "T" ? &title : field == "A" ? &authors : field == "B" ? &source : field == "W" ? &text : nullptr;
    if (dst) {
      *dst += line;
      *dst += '\n';
    }
  }
  flush();
  return docs;
}

std::vector<SourceDoc> parse_documents(const std::string& path, std::string_view content, InputFormat f) {
  check_text(path, content);
  std::filesystem::path p(path);
  switch (f) {
    case InputFormat::Jsonl: return parse_jsonl(path, content, false);
    case InputFormat::Beir: return parse_jsonl(path, content, true);
    case InputFormat::Smart: {
      auto docs = parse_smart(content);
      if (docs.empty() && !content.empty()) fail("{}: no SMART records (lines '.I <id>') found", path);
      return docs;
    }
    case InputFormat::Html: {
      SourceDoc d;
      d.text = html_to_text(content, &d.title);
      if (d.title.empty()) d.title = p.stem().string();
      return {d};
    }
    case InputFormat::Markdown: {
      SourceDoc d;
      std::string text(content);
      // The first ATX heading is the title; it leaves the text so it is not counted twice.
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string::npos ? text.size() : nl;
        std::string_view line(text.data() + pos, end - pos);
        if (line.size() > 2 && line[0] == '#') {
          size_t h = line.find_first_not_of('#');
          if (h != std::string_view::npos && h <= 6 && line[h] == ' ') {
            d.title = normalize_space(line.substr(h));
            text.erase(pos, end - pos);
            break;
          }
        }
        if (!normalize_space(line).empty()) break;  // only a heading before any text
        pos = end + 1;
      }
      if (d.title.empty()) d.title = p.stem().string();
      d.text = text;
      return {d};
    }
    case InputFormat::Text:
    case InputFormat::Auto: {
      SourceDoc d;
      d.title = p.stem().string();
      d.text = std::string(content);
      return {d};
    }
  }
  return {};
}

}  // namespace flops::search
