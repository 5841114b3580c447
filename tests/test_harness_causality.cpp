// The causality benchmark reproduced from the published answers (Kıcıman et al. 2023, the
// amit-sharma/chatgpt-causality-pairs repo in ../shared/data/causality-pairs):
//   - the single-prompt A/B protocol replayed from GPT-4's raw API responses gives the accuracy
//     and the per-pair correctness of gpt-4_system_results_singleprompt.csv;
//   - the yes/no protocol, with answers rebuilt from the correctness columns of results.txt and
//     gpt-3.5-turbo_system_results.csv, gives what accuracy_results.log reports;
//   - the arctic sea-ice answers recorded in accuracy.csv score as their own columns say.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "harness/csv.h"
#include "test_util.h"

using namespace flops;
using namespace flops::harness;

namespace {

using CliRun = test::CommandRun;

CliRun run(const std::string& args) { return test::run_command(std::string(FLOPS_BINARY_DIR) + "/flops " + args); }

std::string pairs_dir() {
  std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/causality-pairs";
}

Table table(const std::string& path, bool header = true, char delim = ',') {
  TableFormat f;
  f.strip = true;
  f.header = header;
  f.delimiter = delim;
  return read_table(path, f);
}

int col(const Table& t, const std::string& name) {
  for (size_t c = 0; c < t.columns.size(); c++)
    if (t.columns[c] == name) return (int)c;
  ADD_FAILURE() << "no column " << name << " in " << t.path;
  return 0;
}

// pairNNNN -> weight, from pairmeta.txt.
std::map<std::string, double> weights() {
  TableFormat f;
  f.delimiter = ' ';
  f.header = false;
  Table t = read_table(pairs_dir() + "/pairmeta.txt", f);
  std::map<std::string, double> w;
  for (auto& r : t.rows) w["pair" + r[0]] = std::stod(r[5]);
  return w;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// What accuracy_results.log reports for a model line.
double logged_accuracy(const std::string& model) {
  std::ifstream f(pairs_dir() + "/accuracy_results.log");
  std::string line, prev;
  while (std::getline(f, line)) {
    if (prev == model && line.rfind("accuracy:", 0) == 0) return std::stod(line.substr(9));
    prev = line;
  }
  ADD_FAILURE() << "no line for " << model << " in accuracy_results.log";
  return -1;
}

// Yes/no answers rebuilt from a results file's correctness columns: the right answer to "does A
// cause B" is Yes when groundtruth is "->"; a 0 in the column means the model said the other.
std::string yesno_responses(const std::string& results_file, const std::string& out) {
  Table t = table(pairs_dir() + "/" + results_file);
  int cab = col(t, "CorrectACauseB"), cba = col(t, "CorrectBCauseA"), id = col(t, "pairid"), gt = col(t, "groundtruth");
  std::ofstream o(out);
  for (auto& r : t.rows) {
    bool forward = r[gt] == "->";
    auto answer = [](bool truth, bool correct) { return (truth == correct) ? "Yes" : "No"; };
    o << nlohmann::json{{"doc_id", r[id] + "-ab"}, {"response", answer(forward, r[cab] == "1")}}.dump() << "\n";
    o << nlohmann::json{{"doc_id", r[id] + "-ba"}, {"response", answer(!forward, r[cba] == "1")}}.dump() << "\n";
  }
  return out;
}

}  // namespace

TEST(HarnessCausality, Gpt4SinglePromptReplayed) {
  if (pairs_dir().empty()) GTEST_SKIP() << "no ../shared/data/causality-pairs";
  std::string samples = test::temp_dir() + "/tuebingen_ab_samples.jsonl";
  CliRun r = run("eval --tasks causality_tuebingen_ab --responses " + pairs_dir() +
                 "/gpt-4_system_results_singleprompt.jsonl --json --log-samples " + samples);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& res = j["results"]["causality_tuebingen_ab"];
  // The repo's own per-pair correctness of GPT-4 (CorrectCause) and the pairs' weights.
  Table t = table(pairs_dir() + "/gpt-4_system_results_singleprompt.csv");
  int id = col(t, "pairid"), cc = col(t, "CorrectCause");
  std::map<std::string, int> correct;
  double n_ok = 0, w_ok = 0, w_all = 0;
  auto w = weights();
  for (auto& row : t.rows) {
    correct[row[id]] = std::stoi(row[cc]);
    n_ok += correct[row[id]];
    w_ok += correct[row[id]] * w.at(row[id]);
    w_all += w.at(row[id]);
  }
  ASSERT_EQ(correct.size(), 108u);
  EXPECT_NEAR(res["exact_match,answer-tag"].get<double>(), n_ok / 108, 1e-12);  // 104 / 108 = 0.9630
  EXPECT_NEAR(n_ok, 104, 0);
  EXPECT_NEAR(res["exact_match_weighted,answer-tag"].get<double>(), w_ok / w_all, 1e-12);  // 0.9744
  // Every recorded prompt is the one the task renders from prompts.csv.
  EXPECT_EQ(j["tasks"]["causality_tuebingen_ab"]["backend_notes"]["prompts_equal"], 108);
  // Per pair: the answer parsed from GPT-4's text is right exactly where the repo says so.
  auto s = read_jsonl(samples);
  ASSERT_EQ(s.size(), 108u);
  int disagree = 0;
  for (auto& x : s) {
    std::string pid = x["doc_id"];
    if (x["correct"].get<bool>() != (correct.at(pid) == 1)) {
      disagree++;
      ADD_FAILURE() << pid << ": parsed '" << x["filtered"]["answer-tag"] << "', the repo says " << correct.at(pid);
    }
  }
  EXPECT_EQ(disagree, 0);
  // GPT-4's four wrong pairs, each with exactly one <Answer> tag in its text (checked by hand:
  // none of the 108 answers has two tags or a tag holding anything but A or B).
  std::set<std::string> wrong;
  for (auto& x : s)
    if (!x["correct"].get<bool>()) wrong.insert(x["doc_id"].get<std::string>());
  EXPECT_EQ(wrong, (std::set<std::string>{"pair0052", "pair0065", "pair0066", "pair0082"}));
  // The file's two yes/no columns are not GPT-4's: they are results.txt's (ChatGPT's) copied.
  Table chatgpt = table(pairs_dir() + "/results.txt");
  ASSERT_EQ(chatgpt.rows.size(), t.rows.size());
  int cab = col(t, "CorrectACauseB"), cba = col(t, "CorrectBCauseA");
  for (size_t i = 0; i < t.rows.size(); i++) {
    EXPECT_EQ(t.rows[i][id], chatgpt.rows[i][col(chatgpt, "pairid")]);
    EXPECT_EQ(t.rows[i][cab], chatgpt.rows[i][col(chatgpt, "CorrectACauseB")]) << t.rows[i][id];
    EXPECT_EQ(t.rows[i][cba], chatgpt.rows[i][col(chatgpt, "CorrectBCauseA")]) << t.rows[i][id];
  }
}

TEST(HarnessCausality, YesNoProtocolFromTheResultsFiles) {
  if (pairs_dir().empty()) GTEST_SKIP() << "no ../shared/data/causality-pairs";
  auto w = weights();
  for (const std::string file : {"results.txt", "gpt-3.5-turbo_system_results.csv"}) {
    std::string resp = yesno_responses(file, test::temp_dir() + "/yesno_" + file + ".jsonl");
    CliRun r = run("eval --tasks causality_tuebingen_yesno --responses " + resp + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    const auto& res = j["results"]["causality_tuebingen_yesno"];
    // The README's protocol: a pair's accuracy is the mean of its two answers.
    Table t = table(pairs_dir() + "/" + file);
    int cab = col(t, "CorrectACauseB"), cba = col(t, "CorrectBCauseA"), id = col(t, "pairid");
    double sum = 0, wsum = 0, wall = 0;
    for (auto& row : t.rows) {
      double a = (std::stod(row[cab]) + std::stod(row[cba])) / 2;
      sum += a;
      wsum += a * w.at(row[id]);
      wall += w.at(row[id]);
    }
    EXPECT_NEAR(res["exact_match,yes-no"].get<double>(), sum / t.rows.size(), 1e-12) << file;
    EXPECT_NEAR(res["exact_match_weighted,yes-no"].get<double>(), wsum / wall, 1e-12) << file;
    if (file == "results.txt") {
      EXPECT_NEAR(sum / t.rows.size(), 0.8935185185, 1e-9);
    }
    // accuracy_results.log's "gpt-3.5-turbo system" line is this file's unweighted accuracy.
    if (file != "results.txt") {
      EXPECT_NEAR(res["exact_match,yes-no"].get<double>(), logged_accuracy("gpt-3.5-turbo system"), 1e-12);
    }
  }
}

TEST(HarnessCausality, ArcticAnswersScoreAsRecorded) {
  if (pairs_dir().empty()) GTEST_SKIP() << "no ../shared/data/causality-pairs";
  // accuracy.csv: i, j, the model's answer, its two predicted edges, the two true edges.
  Table t = table(pairs_dir() + "/arcticsea/accuracy.csv", false);
  std::string resp = test::temp_dir() + "/arctic_responses.jsonl";
  std::ofstream o(resp);
  double agree = 0;
  for (auto& r : t.rows) {
    o << nlohmann::json{{"doc_id", "pair_" + r[0] + "_" + r[1]}, {"response", r[2]}}.dump() << "\n";
    agree += r[3] == r[5] && r[4] == r[6] && r[2] != "Error";
  }
  o.close();
  CliRun r = run("eval --tasks causality_arctic --responses " + resp + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // "<answer>a/c</answer>" reads as a (the first letter), which its own columns also record as (1, 0).
  EXPECT_NEAR(j["results"]["causality_arctic"]["exact_match,answer-tag"].get<double>(), agree / t.rows.size(), 1e-12);
}
