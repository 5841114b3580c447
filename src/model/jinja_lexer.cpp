// Jinja2's lexer: template data and the tokens inside {{ }} {% %}, with its whitespace control.
//
//   {%- / {{- / {#-   strip all whitespace before the tag; -%} -}} -#} all whitespace after it.
//   lstrip_blocks     spaces and tabs from the start of the line up to a {% or {# tag (not {{,
//                     not {%+), when nothing else precedes the tag on its line.
//   trim_blocks       the one "\n" right after %} or #} (not after }}, not after +%}).
// Line breaks (\r\n, \r) become \n first, and one trailing newline of the source is dropped
// unless keep_trailing_newline.
#include <cerrno>
#include <cstring>

#include "model/jinja_internal.h"
#include "model/jinja_pystr.h"
#include "model/tokenizer_internal.h"

namespace flops::jinja {

void syntax_error(int line, std::string_view msg) { throw Error(fmt::format("jinja: line {}: {}", line, msg)); }

namespace {

bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct Lexer {
  explicit Lexer(const Options& o) : opt(o) {}
  const Options& opt;
  std::string src;
  size_t pos = 0;
  int line = 1;
  bool line_starting = true;
  std::vector<Token> out;

  int lines_in(size_t a, size_t b) const {
    int n = 0;
    for (size_t k = a; k < b; ++k) n += src[k] == '\n';
    return n;
  }
  void emit(Tok t, std::string text, int at_line) {
    Token k;
    k.type = t;
    k.text = std::move(text);
    k.line = at_line;
    out.push_back(std::move(k));
  }
  // Whitespace after a -%} / -}} / -#}: Python's \s* (Unicode whitespace).
  void skip_ws() {
    size_t b = pos;
    while (pos < src.size()) {
      size_t n = std::min(utf8_len((uint8_t)src[pos]), src.size() - pos);
      auto cps = py::code_points(std::string_view(src).substr(pos, n));
      if (cps.size() != 1 || !py::isspace(cps[0])) break;
      pos += n;
    }
    line += lines_in(b, pos);
  }
  static std::string rstrip_ws(const std::string& text) { return py::strip(text, std::nullopt, false, true); }
  static bool blank(std::string_view text) {
    for (uint32_t c : py::code_points(text))
      if (!py::isspace(c)) return false;
    return true;
  }

  void run() {
    while (pos < src.size()) {
      size_t k = pos;
      size_t tag = std::string::npos;
      while ((k = src.find('{', k)) != std::string::npos) {
        if (k + 1 < src.size() && (src[k + 1] == '{' || src[k + 1] == '%' || src[k + 1] == '#')) {
          tag = k;
          break;
        }
        ++k;
      }
      if (tag == std::string::npos) {
        emit(Tok::Data, src.substr(pos), line);
        line += lines_in(pos, src.size());
        pos = src.size();
        break;
      }
      char kind = src[tag + 1];
      char sign = tag + 2 < src.size() ? src[tag + 2] : 0;
      std::string text = src.substr(pos, tag - pos);
      int text_line = line;
      line += lines_in(pos, tag);
      if (sign == '-') {
        text = rstrip_ws(text);
      } else if (sign != '+' && opt.lstrip_blocks && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) && blank(std::string_view(text).substr(l_pos))) text.resize(l_pos);
      }
      if (!text.empty()) emit(Tok::Data, std::move(text), text_line);
      pos = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      line_starting = false;
      if (kind == '#') comment();
      else if (kind == '%' && raw_block()) continue;
      else tag_body(kind == '{');
    }
    emit(Tok::Eof, "", line);
  }

  void comment() {
    int start = line;
    size_t e = src.find("#}", pos);
    if (e == std::string::npos) syntax_error(start, "unterminated comment ({# without #})");
    bool minus = e > pos && src[e - 1] == '-';
    bool plus = e > pos && src[e - 1] == '+';
    line += lines_in(pos, e);
    pos = e + 2;
    after_end(minus, plus);
  }

  // The whitespace rule of a closing %} or #}.
  void after_end(bool minus, bool plus) {
    if (minus) {
      skip_ws();
      line_starting = pos > 0 && src[pos - 1] == '\n';
    } else if (!plus && opt.trim_blocks && pos < src.size() && src[pos] == '\n') {
      ++pos;
      ++line;
      line_starting = true;
    } else {
      line_starting = false;
    }
  }

  // {% raw %}...{% endraw %}: the text between is data, untouched.
  bool raw_block() {
    size_t p = pos;
    while (p < src.size() && ws(src[p])) ++p;
    if (src.compare(p, 3, "raw") != 0 || (p + 3 < src.size() && (isalnum((uint8_t)src[p + 3]) || src[p + 3] == '_')))
      return false;
    p += 3;
    while (p < src.size() && ws(src[p])) ++p;
    bool minus = p < src.size() && src[p] == '-';
    if (p < src.size() && (src[p] == '-' || src[p] == '+')) ++p;
    if (src.compare(p, 2, "%}") != 0) return false;
    int start = line;
    line += lines_in(pos, p + 2);
    pos = p + 2;
    if (minus) skip_ws();
    // Find {% endraw %} with optional whitespace control.
    size_t q = pos;
    while (true) {
      q = src.find("{%", q);
      if (q == std::string::npos) syntax_error(start, "unterminated {% raw %} block (no {% endraw %})");
      size_t r = q + 2;
      bool lminus = r < src.size() && src[r] == '-';
      if (r < src.size() && (src[r] == '-' || src[r] == '+')) ++r;
      while (r < src.size() && ws(src[r])) ++r;
      if (src.compare(r, 6, "endraw") != 0) {
        q += 2;
        continue;
      }
      r += 6;
      while (r < src.size() && ws(src[r])) ++r;
      bool rminus = r < src.size() && src[r] == '-';
      bool rplus = r < src.size() && src[r] == '+';
      if (rminus || rplus) ++r;
      if (src.compare(r, 2, "%}") != 0) {
        q += 2;
        continue;
      }
      std::string text = src.substr(pos, q - pos);
      if (lminus) text = rstrip_ws(text);
      if (!text.empty()) emit(Tok::Data, text, line);
      line += lines_in(pos, r + 2);
      pos = r + 2;
      after_end(rminus, rplus);
      return true;
    }
  }

  // Tokens of one {{ }} or {% %} up to its end marker.
  void tag_body(bool var) {
    int start = line;
    emit(var ? Tok::VarBegin : Tok::BlockBegin, "", line);
    std::vector<char> balance;
    while (true) {
      while (pos < src.size() && ws(src[pos])) line += src[pos++] == '\n';
      if (pos >= src.size()) syntax_error(start, var ? "unexpected end of template: '}}' missing" : "unexpected end of template: '%}' missing");
      char c = src[pos];
      if (balance.empty()) {
        if (var) {
          if (src.compare(pos, 3, "-}}") == 0) {
            pos += 3;
            emit(Tok::VarEnd, "", line);
            skip_ws();
            line_starting = pos > 0 && src[pos - 1] == '\n';
            return;
          }
          if (src.compare(pos, 2, "}}") == 0) {
            pos += 2;
            emit(Tok::VarEnd, "", line);
            line_starting = false;
            return;
          }
        } else {
          bool minus = src.compare(pos, 3, "-%}") == 0, plus = src.compare(pos, 3, "+%}") == 0;
          if (minus || plus || src.compare(pos, 2, "%}") == 0) {
            pos += minus || plus ? 3 : 2;
            emit(Tok::BlockEnd, "", line);
            after_end(minus, plus);
            return;
          }
        }
      }
      if (isalpha((uint8_t)c) || c == '_') {
        size_t b = pos;
        while (pos < src.size() && (isalnum((uint8_t)src[pos]) || src[pos] == '_')) ++pos;
        emit(Tok::Name, src.substr(b, pos - b), line);
      } else if (isdigit((uint8_t)c)) {
        number();
      } else if (c == '\'' || c == '"') {
        string_literal(c);
      } else {
        static const char* ops2[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* o : ops2)
          if (src.compare(pos, 2, o) == 0) op = o;
        if (op.empty()) {
          if (!std::strchr("+-/*%~[](){}<>=.:|,;", c)) syntax_error(line, fmt::format("unexpected character '{}'", c));
          op = std::string(1, c);
        }
        pos += op.size();
        if (op == "(" || op == "[" || op == "{") balance.push_back(op[0]);
        if (op == ")" || op == "]" || op == "}") {
          char want = op == ")" ? '(' : op == "]" ? '[' : '{';
          if (balance.empty() || balance.back() != want) syntax_error(line, fmt::format("unexpected '{}'", op));
          balance.pop_back();
        }
        emit(Tok::Op, op, line);
      }
    }
  }

  void number() {
    size_t b = pos;
    auto digits = [&] {
      while (pos < src.size() && (isdigit((uint8_t)src[pos]) || (src[pos] == '_' && pos + 1 < src.size() && isdigit((uint8_t)src[pos + 1]))))
        ++pos;
    };
    digits();
    bool is_float = false;
    if (pos + 1 < src.size() && src[pos] == '.' && isdigit((uint8_t)src[pos + 1])) {
      ++pos;
      digits();
      is_float = true;
    }
    if (pos < src.size() && (src[pos] == 'e' || src[pos] == 'E')) {
      size_t q = pos + 1;
      if (q < src.size() && (src[q] == '+' || src[q] == '-')) ++q;
      if (q < src.size() && isdigit((uint8_t)src[q])) {
        pos = q;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t k = b; k < pos; ++k)
      if (src[k] != '_') text += src[k];
    Token t;
    t.line = line;
    t.text = text;
    if (is_float) {
      t.type = Tok::Float;
      t.fval = std::strtod(text.c_str(), nullptr);
    } else {
      t.type = Tok::Int;
      errno = 0;
      t.ival = std::strtoll(text.c_str(), nullptr, 10);
      if (errno) syntax_error(line, fmt::format("integer literal {} is too large", text));
    }
    out.push_back(std::move(t));
  }

  // Python string literal escapes (as Jinja decodes them with unicode-escape).
  void string_literal(char q) {
    int start = line;
    ++pos;
    std::string val;
    while (true) {
      if (pos >= src.size()) syntax_error(start, "unterminated string literal");
      char c = src[pos];
      if (c == q) {
        ++pos;
        break;
      }
      if (c == '\n') ++line;
      if (c != '\\') {
        val += c;
        ++pos;
        continue;
      }
      if (pos + 1 >= src.size()) syntax_error(start, "unterminated string literal");
      char e = src[pos + 1];
      pos += 2;
      auto hex = [&](int n) {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (pos >= src.size() || !isxdigit((uint8_t)src[pos])) syntax_error(line, "truncated \\x/\\u escape in string literal");
          char h = src[pos++];
          v = v * 16 + (isdigit((uint8_t)h) ? h - '0' : (tolower(h) - 'a' + 10));
        }
        return v;
      };
      switch (e) {
        case '\n': ++line; break;
        case '\\': val += '\\'; break;
        case '\'': val += '\''; break;
        case '"': val += '"'; break;
        case 'a': val += '\a'; break;
        case 'b': val += '\b'; break;
        case 'f': val += '\f'; break;
        case 'n': val += '\n'; break;
        case 'r': val += '\r'; break;
        case 't': val += '\t'; break;
        case 'v': val += '\v'; break;
        case 'x': utf8_append_cp(val, hex(2)); break;
        case 'u': utf8_append_cp(val, hex(4)); break;
        case 'U': utf8_append_cp(val, hex(8)); break;
        case 'N': syntax_error(line, "unsupported \\N{...} escape in string literal");
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = e - '0';
            for (int k = 0; k < 2 && pos < src.size() && src[pos] >= '0' && src[pos] <= '7'; ++k) v = v * 8 + (src[pos++] - '0');
            utf8_append_cp(val, v);
          } else {
            val += '\\';  // Python keeps unknown escapes as they are
            val += e;
          }
      }
    }
    emit(Tok::String, std::move(val), start);
  }

  static void utf8_append_cp(std::string& s, uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) syntax_error(0, "string literal escape is not a valid code point");
    std::vector<uint32_t> one{cp};
    s += py::from_code_points(one.data(), 1);
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const Options& opt) {
  Lexer lx{opt};
  lx.src.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      lx.src += '\n';
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else {
      lx.src += source[k];
    }
  }
  if (!opt.keep_trailing_newline && !lx.src.empty() && lx.src.back() == '\n') lx.src.pop_back();
  lx.run();
  return std::move(lx.out);
}

}  // namespace flops::jinja
