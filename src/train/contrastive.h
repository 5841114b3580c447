#pragma once
// A contrastive objective for `flops train --objective contrastive`: turns a language model into
// an embedding model (what flops index -m embeds chunks with).
//
// A batch holds P pairs (a_i, b_i) of related texts. Each text is embedded as the mean of the
// final-norm hidden states of its tokens (BOS included: the pooling flops embed and
// embed_texts apply to the model this writes), L2-normalised: u = e / |e|. With
// similarities S_ij = u(a_i) . u(b_j) / tau, the loss is InfoNCE with in-batch negatives
// (van den Oord et al. 2018; as in SimCSE / E5), both directions:
//   L = 1/2 [ mean_i -log softmax_j(S_ij)[i]  +  mean_j -log softmax_i(S_ij)[j] ]
// Its gradient flows back through the normalisation (d e = (d u - u (u . d u)) / |e|), the mean
// (1/n per pooled position) and the whole network (backward_hidden). Sequences are padded at
// the end; attention is causal, so the padding changes no pooled position.
//
// Pairs come from plain text (make_text_pairs): a passage and the passage after it
// ("neighbour"), and the opening sentence of a passage and the rest of it ("opening"); or from a
// JSONL file of {"a": ..., "b": ...} lines.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/forward_backward.h"
#include "train/model.h"
#include "train/optim.h"

namespace flops::train {

struct TextPair {
  std::string a, b;
};

// Passages of 12..max_words words from the paragraphs (blank-line separated) of `text`; lines of
// a TSV file contribute their last column, grouped into passages. kinds: "neighbour", "opening".
std::vector<TextPair> make_text_pairs(const std::string& text, const std::vector<std::string>& kinds, int max_words = 64);
std::vector<TextPair> read_pair_file(const std::string& path);

struct TokenPairs {
  std::vector<std::vector<int32_t>> a, b;  // BOS (when used) included
  size_t size() const { return a.size(); }
};

struct ContrastiveOptions {
  int64_t steps = 300;
  int batch = 32;       // pairs per step
  int max_tokens = 64;  // per text, BOS included
  float lr = 1e-4f;
  float min_lr = 1e-5f;
  int64_t warmup = 20;
  float tau = 0.05f;
  AdamWConfig adam;
  float grad_clip = 1.0f;
  uint64_t seed = 1;
  int64_t eval_every = 50;  // validation (held-out pairs) every N steps, and at the end
  int pad_token = 0;
  bool skip_bos = false;    // true: leave the first token (BOS) out of the mean
};

struct ContrastiveStep {
  int64_t step = 0, total = 0;
  double loss = 0, acc = 0;  // in-batch top-1: a_i's nearest b is b_i
  double lr = 0, grad_norm = 0;
  double val_loss = -1, val_acc = -1;
  double seconds = 0, flops = 0;
};

// Loss of one batch (pairs idx of `p`); with `grad`, adds its gradient into m.g. acc receives
// the in-batch top-1 accuracy (a -> b).
double contrastive_batch(Model& m, Activations& act, const TokenPairs& p, const std::vector<size_t>& idx,
                         const ContrastiveOptions& o, bool grad, double* acc = nullptr);

// Trains m in place; `val` (may be empty) is scored in batches of o.batch.
std::vector<ContrastiveStep> train_contrastive(Model& m, const TokenPairs& train, const TokenPairs& val,
                                               const ContrastiveOptions& o,
                                               const std::function<void(const ContrastiveStep&)>& on_step = {});

}  // namespace flops::train
