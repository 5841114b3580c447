// The evaluation harness's inputs: delimited tables, datasets with joins, task YAML (strict keys,
// include, groups), template variables and literals, --make-task.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/make_task.h"
#include "harness/task.h"
#include "harness/templates.h"
#include "test_util.h"

using namespace flops;
using namespace flops::harness;

namespace {

std::string dir_for(const std::string& name) {
  std::string d = test::temp_dir() + "/harness_data_" + name;
  std::filesystem::create_directories(d);
  return d;
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(HarnessCsv, QuotingNewlinesAndLines) {
  std::string text = "\xEF\xBB\xBFq,a\r\n\"x, \"\"y\"\"\",1\r\n\"two\nlines\",2\n\nlast,3";
  Table t = parse_table(text, "t.csv", {});
  ASSERT_EQ(t.columns, (std::vector<std::string>{"q", "a"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0], "x, \"y\"");
  EXPECT_EQ(t.rows[1][0], "two\nlines");
  EXPECT_EQ(t.row_line, (std::vector<int>{2, 3, 6}));  // the quoted newline moves the next row down
  EXPECT_EQ(t.rows[2][1], "3");
}

TEST(HarnessCsv, WrongFieldCountNamesTheLine) {
  std::string e = error_of([] { parse_table("question,A,B,answer\nq1,x,y,A\nq2,x,A\n", "exam.csv", {}); });
  EXPECT_NE(e.find("exam.csv line 3: 3 fields, but the header has 4 columns (question, A, B, answer)"), std::string::npos) << e;
  e = error_of([] { parse_table("a,b\n\"open,1\n", "x.csv", {}); });
  EXPECT_NE(e.find("x.csv line 2: a quoted field is never closed"), std::string::npos) << e;
  e = error_of([] { parse_table("a,a\n1,2\n", "x.csv", {}); });
  EXPECT_NE(e.find("column 'a' appears twice"), std::string::npos) << e;
}

TEST(HarnessCsv, WhitespaceSeparatedAndStrip) {
  TableFormat f;
  f.delimiter = ' ';
  f.header = false;
  f.column_names = {"id", "w"};
  Table t = parse_table("0001  0.166 \n  0002\t1\n   \n", "meta.txt", f);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"0001", "0.166"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"0002", "1"}));
  TableFormat s;
  s.strip = true;
  Table u = parse_table("a, b\n 1 ,  -> \n", "r.txt", s);
  EXPECT_EQ(u.columns[1], "b");
  EXPECT_EQ(u.rows[0][1], "->");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("plain"), "plain");
}

TEST(HarnessDataset, JsonlCsvAndJoin) {
  std::string d = dir_for("join");
  write(d, "docs.csv", "pid,text\n\"p1,\",first\n\"p2,\",second\n");
  write(d, "truth.txt", "key , label\np1 , yes\np2 , no\n");
  write(d, "w.txt", "1 0.5\n2 2\n");
  DatasetSpec ds;
  ds.path = d + "/docs.csv";
  JoinSpec j1;
  j1.file.path = "truth.txt";
  j1.file.format = "csv";
  j1.file.table.strip = true;
  j1.left_key = {"{{ pid }}", "left", true};
  j1.right_key = {"{{ key }},", "right", true};
  ds.joins.push_back(j1);
  Docs docs = load_split(ds, "test");
  ASSERT_EQ(docs.docs.size(), 2u);
  EXPECT_EQ(docs.docs[1]["label"], "no");
  EXPECT_EQ(docs.where[1], "docs.csv line 3");
  // A key without a row is an error naming the document.
  write(d, "truth2.csv", "key,label\np1,yes\n");
  ds.joins[0].file.path = "truth2.csv";
  std::string e = error_of([&] { load_split(ds, "test"); });
  EXPECT_NE(e.find("docs.csv line 3 has the key 'p2,', which no row of"), std::string::npos) << e;

  write(d, "a.jsonl", "{\"q\": \"x\", \"n\": 1}\n\n{\"q\": \"y\", \"n\": 2}\n");
  FileSpec f;
  Docs j = load_file(f, d + "/a.jsonl");
  ASSERT_EQ(j.docs.size(), 2u);
  EXPECT_EQ(j.docs[1]["n"], 2);
  EXPECT_EQ(j.where[1], "a.jsonl line 3");
  write(d, "bad.jsonl", "{\"q\": 1}\n{\"q\": \n");
  e = error_of([&] { load_file(f, d + "/bad.jsonl"); });
  EXPECT_NE(e.find("bad.jsonl line 2: not valid JSON"), std::string::npos) << e;
  e = error_of([&] { load_file(f, d + "/w.txt"); });
  EXPECT_NE(e.find("cannot tell the format"), std::string::npos) << e;
}

TEST(HarnessDataset, FolderSplitsAndDataFiles) {
  std::string d = dir_for("splits");
  write(d, "test.jsonl", "{\"a\": 1}\n");
  write(d, "train.csv", "a\n5\n6\n");
  DatasetSpec ds;
  ds.path = d;
  EXPECT_EQ(split_file(ds, "test"), d + "/test.jsonl");
  EXPECT_EQ(load_split(ds, "train").docs.size(), 2u);
  EXPECT_EQ(split_file(ds, "validation"), "");
  ds.data_files["validation"] = "train.csv";
  EXPECT_EQ(split_file(ds, "validation"), d + "/train.csv");
  EXPECT_EQ(split_file(ds, "test"), "");  // data_files lists the splits there are
  std::string e = error_of([&] { resolve_data_path("nowhere/x.csv", d, {"/nonexistent"}); });
  EXPECT_NE(e.find("data not found: 'nowhere/x.csv'"), std::string::npos) << e;
}

TEST(HarnessTemplates, VariablesAndLiterals) {
  EXPECT_EQ(template_variables("{{ question | trim }} {% for o in options %}{{ loop.index0 }}{{ o.x }}{% endfor %}"),
            (std::vector<std::string>{"question", "options"}));
  EXPECT_EQ(template_variables("{% set p = passage %}{% if hint is defined %}{{ hint }}{% endif %}{{ p }}{{ x is none }}"),
            (std::vector<std::string>{"passage", "x"}));
  EXPECT_EQ(template_variables("{{ 'text' ~ name.replace('a', b=c) }} {# {{ ignored }} #}"), (std::vector<std::string>{"name", "c"}));
  nlohmann::json v = parse_literal("['a', \"b\\\"c\", 3, -1.5, True, None, ('t',)]", "test");
  EXPECT_EQ(v.dump(), R"(["a","b\"c",3,-1.5,true,null,["t"]])");
  EXPECT_EQ(parse_literal("[\"it's\"]", "t")[0], "it's");
  EXPECT_NE(error_of([] { parse_literal("['a', 'b'", "doc_to_choice"); }).find("doc_to_choice"), std::string::npos);
  EXPECT_EQ(value_text(nlohmann::json::array({"a", "it's", 1})), "['a', 'it\\'s', 1]");
  // A template that uses a field the document lacks: the field, the template and the document.
  Tpl t{"Q: {{ qestion }}", "t.yaml line 4 (doc_to_text)", true};
  std::string e = error_of([&] { render(t, {{"question", "x"}, {"answer", "A"}}, "exam.csv line 7"); });
  EXPECT_EQ(e, "t.yaml line 4 (doc_to_text) uses 'qestion', which exam.csv line 7 does not have (its fields: answer, question)");
  EXPECT_EQ(field_or_render({"label", "", true}, {{"label", 2}}, ""), 2);  // a field name gives the raw value
}

TEST(HarnessTask, LoadsAndDefaults) {
  std::string d = dir_for("task");
  write(d, "data.jsonl", "{\"q\": \"x\"}\n");
  write(d, "_base.yaml", "output_type: multiple_choice\ntest_split: test\ndoc_to_choice: [\"A\", \"B\"]\ntarget_delimiter: \"\"\n");
  TaskFile tf = parse_task_yaml(
      "include: _base.yaml\ntask: t1\ndataset_path: data.jsonl\ndoc_to_text: \"{{q}}\"\ndoc_to_target: 0\n"
      "num_fewshot: 2\nfewshot_config:\n  sampler: first_n\ntarget_delimiter: \"#\"\n",
      d + "/t1.yaml", {});
  const TaskConfig& c = tf.task;
  EXPECT_EQ(c.name, "t1");
  EXPECT_EQ(c.output_type, OutputType::MultipleChoice);
  EXPECT_EQ(c.choice_list.size(), 2u);
  EXPECT_EQ(c.target_delimiter, "#");  // the including file wins
  EXPECT_EQ(c.fewshot_delimiter, "\n\n");
  EXPECT_EQ(c.num_fewshot, 2);
  EXPECT_EQ(c.fewshot_sampler, "first_n");
  ASSERT_EQ(c.metrics.size(), 2u);  // multiple_choice: acc and acc_norm
  EXPECT_EQ(c.metrics[1].metric, "acc_norm");
  EXPECT_EQ(c.doc_to_text.where, "t1.yaml line 4 (doc_to_text)");

  TaskFile g = parse_task_yaml(
      "group: g\ntask: [a, b]\naggregate_metric_list:\n  - metric: acc\n    weight_by_size: false\n", d + "/g.yaml", {});
  ASSERT_TRUE(g.is_group);
  EXPECT_EQ(g.group.tasks, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(g.group.aggregate[0].weight_by_size);

  TaskFile gen = parse_task_yaml("task: g1\ndataset_path: data.jsonl\ntest_split: test\ndoc_to_text: q\ndoc_to_target: q\n"
                                 "output_type: generate_until\nfilter_list:\n  - name: f\n    filter:\n"
                                 "      - function: regex\n        regex_pattern: \"(\\\\d+)\"\n      - function: take_first\n",
                                 d + "/g1.yaml", {});
  EXPECT_EQ(gen.task.gen.until, (std::vector<std::string>{"\n\n"}));  // [fewshot_delimiter], as the harness
  EXPECT_EQ(gen.task.gen.max_gen_toks, 256);
  ASSERT_EQ(gen.task.filters.size(), 1u);
  EXPECT_EQ(gen.task.filters[0].steps[0].regex_pattern, "(\\d+)");
  EXPECT_EQ(gen.task.metrics[0].metric, "exact_match");
}

TEST(HarnessTask, StrictKeysNameTheLine) {
  const std::string base = "task: t\ndataset_path: d.jsonl\ntest_split: test\ndoc_to_target: a\n";
  auto err = [&](const std::string& extra) { return error_of([&] { parse_task_yaml(base + extra, "/x/my.yaml", {}); }); };
  EXPECT_EQ(err("doc_to_txt: \"{{q}}\"\n"), "my.yaml line 5: unknown task key 'doc_to_txt' (did you mean 'doc_to_text'?)");
  EXPECT_EQ(err("doc_to_text: q\nprocess_docs: !function utils.process\n"),
            "my.yaml line 6: 'process_docs' is not supported by flops: it names Python code; use dataset_kwargs.join and "
            "templates instead");
  EXPECT_EQ(err("doc_to_text: !function utils.text\n"),
            "my.yaml line 5: 'doc_to_text: !function' names Python code, which flops does not run");
  EXPECT_EQ(err("doc_to_text: q\nnum_fewshot: five\n"), "my.yaml line 6: num_fewshot must be an integer, got 'five'");
  EXPECT_EQ(err("doc_to_text: q\nmetric_list:\n  - metric: bleu\n"),
            "my.yaml line 7: metric 'bleu' is not supported (acc, acc_norm, exact_match, f1, perplexity)");
  EXPECT_EQ(err("doc_to_text: q\nmetric_list:\n  - metric: exact_match\n    ignore_cse: true\n"),
            "my.yaml line 8: unknown metric_list key 'ignore_cse' (did you mean 'ignore_case'?)");
  EXPECT_EQ(err("doc_to_text: q\ngeneration_kwargs:\n  until: [x]\n  max_new_tokens: 5\n"),
            "my.yaml line 8: unknown generation_kwargs key 'max_new_tokens'");
  EXPECT_EQ(err("doc_to_text: q\noutput_type: multiple_choice\n"),
            "my.yaml: task 't' is multiple_choice but has no doc_to_choice");
  EXPECT_EQ(err("doc_to_text: q\ndataset_kwargs:\n  join:\n    - path: x.csv\n      left_kee: a\n"),
            "my.yaml line 9: unknown join key 'left_kee' (did you mean 'left_key'?)");
  EXPECT_EQ(err("doc_to_text: q\noutput_type: loglikelihood_rolling\n"),
            "my.yaml line 6: output_type loglikelihood_rolling is not supported (use flops perplexity)");
  EXPECT_EQ(err("doc_to_text: [unclosed\n"), "my.yaml line 6: not valid YAML: end of sequence flow not found");
}

TEST(HarnessMakeTask, WritesATaskThatLoads) {
  std::string d = dir_for("make");
  std::string csv = write(d, "exam.csv",
                          "question,A,B,C,answer\nWhat is H2O?,water,salt,gold,A\n\"Which, of these, is a gas?\",iron,neon,"
                          "wood,b\n");
  MadeTask m = make_task(csv, d + "/out/exam.yaml");
  EXPECT_EQ(m.name, "exam");
  EXPECT_EQ(m.questions, 2);
  EXPECT_EQ(m.options, 3);
  EXPECT_NE(m.yaml.find("dataset_path: \"../exam.csv\""), std::string::npos) << m.yaml;
  std::filesystem::create_directories(d + "/out");
  TaskFile tf = parse_task_yaml(m.yaml, d + "/out/exam.yaml", {});
  EXPECT_EQ(tf.task.output_type, OutputType::MultipleChoice);
  EXPECT_EQ(tf.task.choice_list.size(), 3u);

  std::string bad = write(d, "bad.csv", "question,A,B,answer\nq1,x,y,A\nq2,x,y,C\n");
  EXPECT_EQ(error_of([&] { make_task(bad, d + "/b.yaml"); }), "bad.csv line 3: the answer 'C' is neither a letter A-B nor a number 1-2");
  std::string cols = write(d, "cols.csv", "question,options,answer\nq1,a|b|c,1\nq2,a|b,2\n");
  EXPECT_EQ(error_of([&] { make_task(cols, d + "/c.yaml"); }), "cols.csv line 3: 2 options, but the first question has 3");
  std::string short_row = write(d, "short.csv", "question,A,B,answer\nq1,x,y,A\nq2,x,A\n");
  EXPECT_NE(error_of([&] { make_task(short_row, d + "/s.yaml"); }).find("short.csv line 3: 3 fields, but the header has 4"),
            std::string::npos);
}
