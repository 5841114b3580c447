#pragma once
// The training path of the llama architecture, forward and backward, in fp32.
// One function each, written out layer by layer: token embedding -> per layer
// [RMSNorm -> Q,K,V -> RoPE -> causal grouped-query attention -> output
// projection -> residual; RMSNorm -> SwiGLU FFN -> residual] -> RMSNorm ->
// output matrix -> softmax cross-entropy.
// Matmuls run B*T tokens at once through cblas_sgemm; attention, norms and
// element-wise parts are OpenMP loops. All model FLOPs (matmul + attention,
// forward and backward) go to flops::counter.
#include <cstdint>
#include <vector>

#include "train/model.h"

namespace flops::train {

// Everything the forward pass keeps for the backward pass, sized for B x T.
struct Activations {
  int B = 0, T = 0;
  // Per layer, [L][N][dim] with N = B*T.
  std::vector<float> x;       // residual stream entering each layer, plus the final one: [L+1][N][C]
  std::vector<float> xn1;     // attn RMSNorm output
  std::vector<float> rstd1;   // [L][N]
  std::vector<float> q, k, v; // after bias and RoPE: [L][N][C], [L][N][Ck], [L][N][Ck]
  std::vector<float> att;     // softmax probabilities [L][B][H][T][T] (upper triangle unused)
  std::vector<float> o;       // attention output before the projection [L][N][C]
  std::vector<float> x2;      // residual after attention [L][N][C]
  std::vector<float> xn2;
  std::vector<float> rstd2;
  std::vector<float> gate, up, hid;  // [L][N][F]
  std::vector<float> xf;      // final RMSNorm output [N][C]
  std::vector<float> rstdf;   // [N]
  std::vector<float> probs;   // softmax of the logits [N][V]
  std::vector<float> rope_cos, rope_sin;  // [T][n_rot/2]
  // Backward scratch.
  std::vector<float> dres, dtmp, dq, dk, dv, do_, dgate, dup, dhid;
  std::vector<float> dscores;  // [T][T], one (sequence, head) at a time
  // Stop the forward pass at the final norm (xf): embeddings need no logits (contrastive.h).
  bool skip_logits = false;
};

void alloc_activations(const Model& m, int B, int T, Activations& a);

// A target that adds nothing to the loss or the gradient (e.g. prompt tokens when only the
// answers are trained on).
inline constexpr int32_t kIgnoreTarget = -1;

// Forward over tokens[B*T] predicting targets[B*T] (each row is one sequence of T starting at
// position 0). Returns the summed (not mean) cross-entropy in nats. targets may be null: then
// only the probabilities are computed and 0 is returned.
double forward(const Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T);

// Backward of (loss_scale * summed loss) for the last forward; ADDS into m.g (so gradient
// accumulation and data parallelism just sum). loss_scale is 1 / (tokens in the global batch).
void backward(Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale);

// Backward from a gradient with respect to the final norm's output (xf, [B*T][C]) instead of
// the logits: for objectives on hidden states (contrastive.h). ADDS into m.g like backward().
void backward_hidden(Model& m, Activations& a, const int32_t* tokens, const float* dxf);

// FLOPs counted for one forward (+ backward) of B x T tokens: matmuls, causal attention.
double train_flops_per_step(const ModelConfig& c, int B, int T, bool with_backward = true);

}  // namespace flops::train
