// Must-show 4: `flops chat` driven through a real terminal (tmux) on the shipped model: two
// turns, /reset, a third turn, and a clean exit at end of input; every rendered prompt (logged
// with --log-prompts) equals the chat template's rendering of the messages, its tokens equal
// encode_chat's, and the replies appear on the terminal. Also `flops template render` and the
// stop reasons `flops generate` reports.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "model/chat_template.h"
#include "model/synthetic.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace flops;
using ojson = nlohmann::ordered_json;

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun sh(const std::string& cmd) {
  std::string err_path = test::temp_dir() + "/chat_cli_stderr.txt";
  FILE* p = popen((cmd + " 2>" + err_path).c_str(), "r");
  CliRun r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string flops_bin() { return std::string(FLOPS_BINARY_DIR) + "/flops"; }
std::string q(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::vector<ojson> read_log(const std::string& path) {
  std::vector<ojson> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(ojson::parse(line));
  return out;
}

struct Tmux {
  std::string sock, session = "flopschat";
  std::string cmd(const std::string& args) const { return "tmux -L " + sock + " " + args; }
  std::string pane() const { return sh(cmd("capture-pane -p -J -S - -t " + session)).out; }
  void keys(const std::string& literal) const { sh(cmd("send-keys -t " + session + " -l " + q(literal))); }
  void key(const std::string& name) const { sh(cmd("send-keys -t " + session + " " + name)); }
  ~Tmux() { sh(cmd("kill-server")); }
};

// Polls until pred() holds or `seconds` pass.
template <typename F>
bool wait_for(F pred, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

}  // namespace

TEST(ChatCli, TwoTurnsResetAndEofThroughARealTerminal) {
  if (sh("command -v tmux").code != 0) GTEST_SKIP() << "tmux not installed";
  const std::string model = std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf";
  ASSERT_TRUE(fs::exists(model));
  const std::string dir = test::temp_dir();
  const std::string log = dir + "/chat_prompts.jsonl", rc = dir + "/chat_rc.txt";
  fs::remove(log);
  fs::remove(rc);
  Tmux t;
  t.sock = "flops_chat_test_" + std::to_string(::getpid());
  std::string chat = flops_bin() + " chat -m " + q(model) +
                     " --chat-template chatml -sys 'You are a storyteller.' -n 32 --temp 0 -t 1 --log-prompts " + q(log);
  std::string inner = chat + "; echo $? > " + q(rc) + "; sleep 60";
  ASSERT_EQ(sh(t.cmd("new-session -d -x 160 -y 48 -s " + t.session + " " + q(inner))).code, 0);
  ASSERT_TRUE(wait_for([&] { return t.pane().find("> ") != std::string::npos; }, 60)) << t.pane();

  auto turn = [&](const std::string& text, size_t n_logged) {
    t.keys(text);
    t.key("Enter");
    EXPECT_TRUE(wait_for([&] { return read_log(log).size() >= n_logged; }, 120)) << t.pane();
  };
  turn("Once upon a time there was a cat.", 1);
  turn("What did the cat do next?", 2);
  t.keys("/reset");
  t.key("Enter");
  ASSERT_TRUE(wait_for([&] { return t.pane().find("[conversation reset") != std::string::npos; }, 30)) << t.pane();
  turn("Tell me about a dog.", 3);
  t.key("C-d");  // end of input
  ASSERT_TRUE(wait_for([&] { return fs::exists(rc) && fs::file_size(rc) > 0; }, 60)) << t.pane();
  std::ifstream rcf(rc);
  int code = -1;
  rcf >> code;
  EXPECT_EQ(code, 0) << t.pane();

  auto entries = read_log(log);
  ASSERT_EQ(entries.size(), 3u);
  // The conversations: turn 2 carries turn 1 and its reply; after /reset only the system prompt stays.
  ASSERT_EQ(entries[0]["messages"].size(), 2u);
  ASSERT_EQ(entries[1]["messages"].size(), 4u);
  ASSERT_EQ(entries[2]["messages"].size(), 2u);
  EXPECT_EQ(entries[0]["messages"][0]["content"], "You are a storyteller.");
  EXPECT_EQ(entries[1]["messages"][1]["content"], "Once upon a time there was a cat.");
  EXPECT_EQ(entries[1]["messages"][2]["content"], entries[0]["reply"]);
  EXPECT_EQ(entries[1]["messages"][3]["content"], "What did the cat do next?");
  EXPECT_EQ(entries[2]["messages"][1]["content"], "Tell me about a dog.");
  // Turn 2 reuses turn 1's cache.
  EXPECT_GT(entries[1]["reused_tokens"].get<int>(), 10);

  GGUFFile g = gguf_open(model);
  Tokenizer tok = Tokenizer::from_gguf(g);
  ChatTemplate tpl = chat_template_for(g, tok, "chatml");
  const std::string pane = t.pane();
  int visible_turns = 0;
  for (const auto& e : entries) {
    std::string want = render_chat(tpl, e["messages"], true);
    EXPECT_EQ(e["rendered"].get<std::string>(), want) << "turn " << e["turn"];
    EXPECT_EQ(e["tokens"].get<std::vector<int32_t>>(), encode_chat(tok, tpl, want)) << "turn " << e["turn"];
    std::string reply = e["reply"];
    // The reply was streamed to the terminal: its first non-blank line, as the terminal shows it.
    std::string first_line;
    for (size_t at = 0; at < reply.size() && first_line.empty();) {
      size_t nl = reply.find('\n', at);
      first_line = reply.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      while (!first_line.empty() && (first_line.back() == ' ' || first_line.back() == '\r')) first_line.pop_back();
      at = nl == std::string::npos ? reply.size() : nl + 1;
    }
    // A tiny model may greedily answer newlines only; such a turn has nothing visible to find.
    if (first_line.empty()) continue;
    visible_turns++;
    EXPECT_NE(pane.find(first_line), std::string::npos) << "turn " << e["turn"] << ": " << reply << "\n" << pane;
  }
  EXPECT_GE(visible_turns, 1) << "no turn's reply had a visible line:\n" << pane;
  // The rendered chatml prompt of turn 2, spelled out.
  EXPECT_EQ(entries[1]["rendered"].get<std::string>(),
            "<|im_start|>system\nYou are a storyteller.<|im_end|>\n<|im_start|>user\nOnce upon a time there was a cat."
            "<|im_end|>\n<|im_start|>assistant\n" +
                entries[0]["reply"].get<std::string>() +
                "<|im_end|>\n<|im_start|>user\nWhat did the cat do next?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatCli, SaveAndUnknownCommandsFromPipedInput) {
  const std::string model = std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf";
  const std::string dir = test::temp_dir();
  std::string saved = dir + "/saved_chat.json";
  std::ofstream(dir + "/chat_in.txt") << "/help\n/bogus\nHello\n/save " << saved << "\n";
  CliRun r = sh(flops_bin() + " chat -m " + q(model) + " --chat-template chatml -n 4 --temp 0 --quiet < " + q(dir + "/chat_in.txt"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("/reset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[unknown command /bogus"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[saved 2 messages to"), std::string::npos) << r.out;
  ojson m = ojson::parse(std::ifstream(saved));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["content"], "Hello");
  EXPECT_EQ(m[1]["role"], "assistant");
  // The saved conversation answers again with generate --chat.
  CliRun g = sh(flops_bin() + " generate -m " + q(model) + " --chat " + q(saved) + " --chat-template chatml -n 3 --temp 0 --json");
  EXPECT_EQ(g.code, 0) << g.err;
  ojson j = ojson::parse(g.out);
  EXPECT_EQ(j["prompt"].get<std::string>().rfind("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", 0), 0u);
  // A model without a chat template and no --chat-template: a clear error.
  CliRun e = sh(flops_bin() + " chat -m " + q(model) + " < /dev/null");
  EXPECT_EQ(e.code, 1);
  EXPECT_NE(e.err.find("the model has no chat template"), std::string::npos) << e.err;
}

TEST(GenerateCli, SaysWhyItStopped) {
  const std::string model = std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf";
  // The shipped model's window is 256 tokens: asking for 100000 stops at the window, and says so.
  CliRun r = sh(flops_bin() + " generate -m " + q(model) + " -p 'Once upon a time' -n 100000 --temp 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  ojson j = ojson::parse(r.out);
  EXPECT_EQ(j["stop_reason"], "context_full");
  EXPECT_EQ(j["prompt_tokens"].get<int>() + j["generated_tokens"].get<int>(), 257);
  CliRun text = sh(flops_bin() + " generate -m " + q(model) + " -p 'Once upon a time' -n 100000 --temp 0");
  EXPECT_NE(text.err.find("stopped: context full (256 tokens"), std::string::npos) << text.err;
  CliRun len = sh(flops_bin() + " generate -m " + q(model) + " -p 'Once upon a time' -n 3 --temp 0");
  EXPECT_NE(len.err.find("stopped: length"), std::string::npos) << len.err;
  // A stop string (-r): the text ends before it.
  ojson free_run = ojson::parse(sh(flops_bin() + " generate -m " + q(model) + " -p 'Once upon a time' -n 20 --temp 0 --json").out);
  std::string gen = free_run["text"];
  ASSERT_GT(gen.size(), 8u);
  std::string stop = gen.substr(5, 3);
  ojson s = ojson::parse(sh(flops_bin() + " generate -m " + q(model) + " -p 'Once upon a time' -n 20 --temp 0 --json -r " + q(stop)).out);
  EXPECT_EQ(s["stop_reason"], "stop_string");
  EXPECT_EQ(s["text"], gen.substr(0, gen.find(stop)));
}

TEST(TemplateCli, RendersACaseOrFailsWithItsMessage) {
  const std::string dir = test::temp_dir();
  std::string tpl = dir + "/t.jinja";
  std::ofstream(tpl) << "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
                        "{% if add_generation_prompt %}{{ bos_token }}>{% endif %}"
                        "{% if messages|length > 2 %}{{ raise_exception('too long: ' ~ messages|length) }}{% endif %}";
  std::string c1 = dir + "/case1.json", c2 = dir + "/case2.json";
  std::ofstream(c1) << R"({"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true, "bos_token": "<s>", "eos_token": ""})";
  std::ofstream(c2) << R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]})";
  CliRun a = sh(flops_bin() + " template render --template " + q(tpl) + " --case " + q(c1));
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, "[user] hi\n<s>>");
  CliRun b = sh(flops_bin() + " template render --template " + q(tpl) + " --case " + q(c2));
  EXPECT_EQ(b.code, 1);
  EXPECT_EQ(b.err, "error: too long: 3\n");
  EXPECT_EQ(b.out, "");
  std::ofstream(dir + "/bad.jinja") << "{{ x | nosuchfilter }}";
  CliRun c = sh(flops_bin() + " template render --template " + q(dir + "/bad.jinja") + " --case " + q(c1));
  EXPECT_EQ(c.code, 1);
  EXPECT_EQ(c.err, "error: jinja: line 1: unsupported filter 'nosuchfilter'\n");
  // The shared cases through the command line: one per template file, byte for byte.
  std::string data = test::shared_data_dir();
  if (data.empty()) return;
  for (const auto& e : fs::directory_iterator(data + "/chat-templates")) {
    std::string p = e.path().string();
    if (p.size() < 13 || p.substr(p.size() - 12) != ".cases.jsonl") continue;
    std::ifstream f(p);
    std::string line;
    std::getline(f, line);
    ojson cs = ojson::parse(line);
    std::string cf = dir + "/shared_case.json";
    std::ofstream(cf) << line;
    std::string jinja = p.substr(0, p.size() - 12) + ".jinja";
    CliRun r = sh(flops_bin() + " template render --template " + q(jinja) + " --case " + q(cf));
    if (cs.contains("expected")) {
      EXPECT_EQ(r.code, 0) << p << r.err;
      EXPECT_EQ(r.out, cs["expected"].get<std::string>()) << p;
    }
  }
}
