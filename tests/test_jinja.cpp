// The Jinja interpreter against Jinja2 itself (tests/data/jinja_vs_jinja2.jsonl: templates and the
// output or exception class Jinja2 3.1.6 gave, configured as transformers configures it; see
// scripts/jinja_vectors.py), and its errors: unsupported constructs and runtime failures name the
// construct and the line.
#include <gtest/gtest.h>

#include <fstream>

#include "model/chat_template.h"
#include "model/jinja.h"

using namespace flops;
using ojson = nlohmann::ordered_json;

namespace {

std::string error_of(std::string_view tpl, const ojson& vars = ojson::object()) {
  try {
    jinja::render(tpl, vars, jinja::Options{});
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Jinja, AgreesWithJinja2OnEveryVector) {
  std::ifstream in(std::string(FLOPS_SOURCE_DIR) + "/tests/data/jinja_vs_jinja2.jsonl");
  ASSERT_TRUE(in) << "tests/data/jinja_vs_jinja2.jsonl missing";
  std::string line;
  int n = 0, rendered = 0, failed = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++n;
    ojson c = ojson::parse(line);
    const std::string tpl = c["t"];
    if (c.contains("expected")) {
      try {
        EXPECT_EQ(jinja::render(tpl, c["v"], jinja::Options{}), c["expected"].get<std::string>()) << tpl;
        ++rendered;
      } catch (const std::exception& e) {
        ADD_FAILURE() << tpl << "\n threw " << e.what();
      }
    } else {
      std::string msg = error_of(tpl, c["v"]);
      EXPECT_NE(msg, "(no error)") << tpl << " rendered, Jinja2 raised " << (c.contains("error") ? c["error"] : "a syntax error");
      if (c.contains("error") && c["error"] != "TemplateError") {
        EXPECT_NE(msg.find(c["error"].get<std::string>()), std::string::npos) << tpl << ": " << msg;
      }
      ++failed;
    }
  }
  EXPECT_GT(n, 100);
  std::printf("%d vectors: %d rendered as Jinja2 renders them, %d failed as Jinja2 fails\n", n, rendered, failed);
}

TEST(Jinja, UnsupportedConstructsNameTheConstructAndLine) {
  EXPECT_EQ(error_of("a\nb\n{{ x | groupby('k') }}"), "jinja: line 3: unsupported filter 'groupby'");
  EXPECT_EQ(error_of("\n{% include 'other.jinja' %}"), "jinja: line 2: unsupported template tag '{% include %}'");
  EXPECT_EQ(error_of("{% call m() %}x{% endcall %}"), "jinja: line 1: unsupported template tag '{% call %}'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "jinja: line 1: unknown template tag '{% frobnicate %}'");
  EXPECT_EQ(error_of("\n\n{% if x is frobbed %}{% endif %}"), "jinja: line 3: unsupported test 'frobbed'");
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"),
            "jinja: line 1: unsupported recursive for loop ('recursive' / loop())");
  EXPECT_EQ(error_of("{{ 'a'.translate({}) }}"), "jinja: line 1: TemplateSyntaxError: unsupported method str.translate()");
  EXPECT_EQ(error_of("{% if x %}\nopen"), "jinja: line 2: unexpected end of template: '{% if %}' is not closed (expected 'endif')");
  EXPECT_EQ(error_of("{{ f(*args) }}"), "jinja: line 1: unsupported *args / **kwargs in a call");
  EXPECT_EQ(error_of("{% break %}"), "jinja: line 1: '{% break %}' outside a for loop");
  // An unsupported filter fails even in a branch that would not run: nothing renders in silence.
  EXPECT_NE(error_of("{% if false %}{{ x|urlize }}{% endif %}").find("unsupported filter 'urlize'"), std::string::npos);
}

TEST(Jinja, RuntimeErrorsCarryPythonsMessageAndTheLine) {
  EXPECT_EQ(error_of("{% for m in messages %}\n{{ m.content + '!' }}\n{% endfor %}",
                     ojson{{"messages", ojson::array({ojson{{"content", nullptr}}})}}),
            "jinja: line 2: TypeError: unsupported operand type(s) for +: 'NoneType' and 'str'");
  EXPECT_EQ(error_of("x\n{{ 'a' + none }}"), "jinja: line 2: TypeError: can only concatenate str (not \"NoneType\") to str");
  EXPECT_EQ(error_of("{% for t in tools %}{% endfor %}", ojson{{"tools", nullptr}}),
            "jinja: line 1: TypeError: 'NoneType' object is not iterable");
  EXPECT_EQ(error_of("{{ functions + 'x' }}"), "jinja: line 1: UndefinedError: 'functions' is undefined");
  EXPECT_EQ(error_of("{{ tools | map(attribute='f') | tojson }}", ojson{{"tools", ojson::array({ojson{{"f", 1}}})}}),
            "jinja: line 1: TypeError: Object of type generator is not JSON serializable");
  EXPECT_EQ(error_of("{{ m.a.b }}", ojson{{"m", ojson::object()}}),
            "jinja: line 1: UndefinedError: 'dict object' has no attribute 'a'");
  EXPECT_EQ(error_of("{{ [].append(1) }}"),
            "jinja: line 1: SecurityError: access to attribute 'append' of 'list' object is unsafe.");
}

TEST(Jinja, RaiseExceptionThrowsItsMessageExactly) {
  try {
    jinja::render("{{ raise_exception('Only user and assistant roles are supported!') }}", ojson::object(), {});
    FAIL() << "rendered";
  } catch (const jinja::TemplateError& e) {
    EXPECT_STREQ(e.what(), "Only user and assistant roles are supported!");
  }
}

TEST(Jinja, KeyOrderFollowsOrderedJsonAndSortsWithJson) {
  const char* tpl = "{{ d|tojson }}|{% for k, v in d|items %}{{ k }}{% endfor %}";
  ojson od = ojson::parse(R"({"d": {"zeta": 1, "alpha": 2}})");
  EXPECT_EQ(jinja::render(tpl, od, {}), "{\"zeta\": 1, \"alpha\": 2}|zetaalpha");
  nlohmann::json sorted = nlohmann::json::parse(R"({"d": {"zeta": 1, "alpha": 2}})");
  EXPECT_EQ(jinja::render(tpl, sorted), "{\"alpha\": 2, \"zeta\": 1}|alphazeta");
}

TEST(Jinja, OptionsOfOtherEnvironments) {
  jinja::Options plain;
  plain.trim_blocks = plain.lstrip_blocks = false;
  plain.keep_trailing_newline = true;
  EXPECT_EQ(jinja::render("  {% if 1 %}\nx\n  {% endif %}\n", ojson::object(), plain), "  \nx\n  \n");
  EXPECT_EQ(jinja::render("  {% if 1 %}\nx\n  {% endif %}\n", ojson::object(), jinja::Options{}), "x\n");
  jinja::Options strict;
  strict.strict_undefined = true;
  EXPECT_THROW(jinja::render("{{ missing }}", ojson::object(), strict), Error);
  EXPECT_EQ(jinja::render("{{ missing }}", ojson::object(), jinja::Options{}), "");
  jinja::Options fixed;
  fixed.now = chat_case_time();
  EXPECT_EQ(jinja::render("{{ strftime_now('%d %b %Y') }}", ojson::object(), fixed), "01 Dec 2026");
  // lm-evaluation-harness's regex_replace filter
  EXPECT_EQ(jinja::render("{{ 'a  b   c'|regex_replace(' +', ' ') }}", ojson::object(), {}), "a b c");
}

TEST(ChatTemplate, BuiltinsRenderTheirFormats) {
  ojson msgs = ojson::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}])");
  struct Want {
    const char* name;
    const char* bos;
    const char* eos;
    const char* text;
  };
  const Want wants[] = {
      {"chatml", "", "",
       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
       "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
      {"llama3", "<|begin_of_text|>", "<|eot_id|>",
       "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
       "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
       "Bye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
      {"llama2", "<s>", "</s>", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]"},
      {"mistral", "<s>", "</s>", "<s>[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]"},
      {"phi3", "<s>", "<|endoftext|>",
       "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"},
      {"gemma", "<bos>", "<eos>",
       "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
       "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
      {"zephyr", "<s>", "</s>", "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n"},
  };
  ASSERT_EQ(builtin_chat_templates().size(), std::size(wants));
  // A vocabulary-only tokenizer is enough to choose a built-in template.
  Tokenizer::Vocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(std::string(1, char(b)));
  for (const auto& w : wants) {
    ChatTemplate t;
    t.name = w.name;
    t.bos_token = w.bos;
    t.eos_token = w.eos;
    bool found = false;
    for (const auto& n : builtin_chat_templates()) found |= n == w.name;
    ASSERT_TRUE(found) << w.name;
    GGUFFile g;
    Tokenizer tok = Tokenizer::from_vocab(v);
    ChatTemplate chosen = chat_template_for(g, tok, w.name);
    t.source = chosen.source;
    t.stop_strings = chosen.stop_strings;
    EXPECT_EQ(render_chat(t, msgs, true), w.text) << w.name;
    EXPECT_FALSE(t.stop_strings.empty()) << w.name;
  }
}

TEST(ChatTemplate, ChoosingFailsClearly) {
  Tokenizer::Vocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(std::string(1, char(b)));
  Tokenizer tok = Tokenizer::from_vocab(v);
  GGUFFile g;
  try {
    chat_template_for(g, tok, "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the model has no chat template"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chatml"), std::string::npos) << e.what();
  }
  try {
    chat_template_for(g, tok, "no-such-format");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("neither a built-in template"), std::string::npos) << e.what();
  }
}
