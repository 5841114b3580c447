// flops index: build or update a search index of documents (see src/search/README.md).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "search/indexer.h"

namespace flops::cli {

void add_index(CLI::App& app) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string output, format = "auto", model, stemmer, boundary;
    int chunk_tokens = 0, chunk_overlap = -1, embed_tokens = 0;
    bool no_stopwords = false;
    search::IndexOptions io;
    int threads = 0;
    bool json = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("index", "index documents for flops search / ask (incremental, resumable)");
  cmd->add_option("docs", o->inputs, "files and folders (.txt, .md, .html, .jsonl; or --format beir/smart)");
  cmd->add_option("-o,--output", o->output, "the index file (SQLite)")->required();
  cmd->add_option("--format", o->format, "auto (by extension), txt, md, html, jsonl, beir (corpus.jsonl), smart (Cranfield)");
  cmd->add_option("-m,--model", o->model, "embedding model (GGUF) for dense search; without it the index is lexical only");
  cmd->add_option("--embed-tokens", o->embed_tokens, "tokens of each chunk the model embeds (default: its context)");
  cmd->add_option("--chunk-tokens", o->chunk_tokens, "chunk size in tokens (the model's tokens, else words; default 200)");
  cmd->add_option("--chunk-overlap", o->chunk_overlap, "tokens repeated from the previous chunk (default 32)");
  cmd->add_option("--chunk-boundary", o->boundary, "paragraph, sentence (default) or word");
  cmd->add_option("--stemmer", o->stemmer, "Snowball stemmer (default english; none = off)");
  cmd->add_flag("--no-stopwords", o->no_stopwords, "keep stop words in the index");
  cmd->add_flag("--resume", o->io.resume, "continue an interrupted build (DOCS default to the recorded ones)");
  cmd->add_option("--batch-chunks", o->io.batch_chunks, "chunks per committed transaction (default 1024)");
  cmd->add_option("--hnsw-min", o->io.hnsw_min, "build an HNSW graph from this many chunks on (default 50000; 0 = never)");
  cmd->add_option("--hnsw-m", o->io.hnsw.M, "HNSW links per node (default 16)");
  cmd->add_option("--hnsw-ef-construction", o->io.hnsw.ef_construction, "HNSW build breadth (default 200)");
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o->quiet, "no progress bar and no cost receipt");
  cmd->callback([o, cmd] {
    if (o->threads < 0) fail("--threads must be >= 0, got {}", o->threads);
    set_threads(o->threads);
    search::IndexOptions io = o->io;
    io.inputs = o->inputs;
    io.output = o->output;
    io.format = search::parse_input_format(o->format);
    if (cmd->count("--model")) io.model_path = o->model;
    if (cmd->count("--embed-tokens")) io.embed_tokens = o->embed_tokens;
    if (cmd->count("--chunk-tokens")) io.chunk_tokens = o->chunk_tokens;
    if (cmd->count("--chunk-overlap")) io.chunk_overlap = o->chunk_overlap;
    if (cmd->count("--chunk-boundary")) io.boundary = search::parse_boundary(o->boundary);
    if (cmd->count("--stemmer")) io.stemmer = o->stemmer;
    if (o->no_stopwords) io.stopwords = false;
    if (io.hnsw_min < 0) fail("--hnsw-min must be >= 0, got {}", io.hnsw_min);
    if (io.hnsw.M < 2 || io.hnsw.ef_construction < 1) fail("--hnsw-m must be >= 2 and --hnsw-ef-construction >= 1");
    if (io.inputs.empty() && !io.resume) fail("no documents given: flops index DOCS... -o INDEX");
    io.progress = !o->json && !o->quiet;
    cost::Meter meter;
    search::IndexReport r = search::build_index(io);
    cost::ReceiptOptions ro;
    ro.label = "index";
    cost::Receipt receipt = cost::finish(meter, ro);
    if (o->json) {
      nlohmann::json j = search::to_json(r);
      j["index"] = o->output;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("{}: {} documents, {} chunks ({} MB){}\n", o->output, r.n_docs, r.n_chunks,
               fmt::format("{:.1f}", (double)r.bytes / 1e6), r.has_model ? ", embedded with " + r.model : ", lexical only");
    fmt::print("files: {} seen, {} indexed, {} unchanged, {} removed{}{}\n", r.files_seen, r.files_indexed,
               r.files_unchanged, r.files_removed, r.files_resumed ? fmt::format(", {} resumed", r.files_resumed) : "",
               r.skipped.empty() ? "" : fmt::format(", {} skipped", r.skipped.size()));
    for (auto& [f, why] : r.skipped) fmt::print("  skipped: {}\n", why);
    fmt::print("added {} documents / {} chunks, removed {} documents, {} segment{}{}{} in {:.2f} s\n", r.docs_added,
               r.chunks_added, r.docs_removed, r.segments, r.segments == 1 ? "" : "s", r.merged ? " (merged)" : "",
               r.hnsw_built ? ", HNSW graph built" : "", r.seconds);
    if (!o->quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
