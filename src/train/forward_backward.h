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

#include "core/dtype.h"
#include "train/model.h"

namespace flops::train {

// What the passes multiply by, so that one forward/backward serves full training (every
// parameter an F32 tensor of a train::Model, with its gradient) and LoRA (a frozen base in its
// own storage type, quantized or not, plus trainable low-rank updates).
//
// One matrix: y[N][rows] = x[N][cols] W^T (W as a GGUF weight with ne = [cols, rows]), plus
// with a low-rank update
//   y += scale * (x A^T) B^T,  A [rank][cols], B [rows][rank] (F32),
// whose gradients are dB += scale * dy^T u and dA += (scale * dy B)^T x with u = x A^T.
struct NetMatrix {
  DType type = DType::F32;  // F32 when trainable
  const void* w = nullptr;
  int64_t rows = 0, cols = 0;
  float* grad = nullptr;  // dW accumulates here; null: frozen (no dW, only the product through it)
  int rank = 0;
  float scale = 0.0f;
  const float* a = nullptr;
  const float* b = nullptr;
  float* grad_a = nullptr;
  float* grad_b = nullptr;
  bool trainable() const { return grad || grad_a; }
};

struct NetVector {
  const float* w = nullptr;
  float* grad = nullptr;  // null: frozen
};

struct NetLayer {
  NetVector attn_norm, bq, bk, bv, ffn_norm;  // biases: qwen2 only
  NetMatrix wq, wk, wv, wo, gate, up, down;
  // The seven matrices in this order (q, k, v, o, gate, up, down): LoRA's target names.
  static constexpr int kMatrices = 7;
  const NetMatrix& matrix(int i) const;
  NetMatrix& matrix(int i) { return const_cast<NetMatrix&>(static_cast<const NetLayer*>(this)->matrix(i)); }
};

struct Net {
  ModelConfig cfg;
  bool neox_rope = false;
  bool has_qkv_bias = false;
  NetMatrix tok_emb;  // [vocab][dim], looked up by row (its low-rank fields are not used)
  NetMatrix output;   // tied: the same weight and gradient as tok_emb
  NetVector out_norm;
  std::vector<NetLayer> layers;
};

// Every parameter of m trainable (the pointers stay valid while m.w and m.g are not resized).
Net net_of(Model& m);

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
  // Low-rank updates: u = x A^T per layer and matrix [L][7][N][rank], and the backward's du.
  std::vector<std::vector<float>> lora_u;
  std::vector<float> lora_du;
  // Stop the forward pass at the final norm (xf): embeddings need no logits (contrastive.h).
  bool skip_logits = false;
};

void alloc_activations(const Net& n, int B, int T, Activations& a);

// A target that adds nothing to the loss or the gradient (e.g. prompt tokens when only the
// answers are trained on).
inline constexpr int32_t kIgnoreTarget = -1;

// Forward over tokens[B*T] predicting targets[B*T] (each row is one sequence of T starting at
// position 0). Returns the summed (not mean) cross-entropy in nats. targets may be null: then
// only the probabilities are computed and 0 is returned.
double forward(const Net& n, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T);
double forward(const Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T);

// Backward of (loss_scale * summed loss) for the last forward; ADDS into m.g (so gradient
// accumulation and data parallelism just sum). loss_scale is 1 / (tokens in the global batch).
// Products whose only use is a gradient nobody trains are skipped (a frozen embedding needs no
// gradient below the lowest trainable layer).
void backward(const Net& n, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale);
void backward(Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale);

// Backward from a gradient with respect to the final norm's output (xf, [B*T][C]) instead of
// the logits: for objectives on hidden states (contrastive.h). ADDS into the gradients like
// backward(), LoRA nets included.
void backward_hidden(const Net& n, Activations& a, const int32_t* tokens, const float* dxf);
void backward_hidden(Model& m, Activations& a, const int32_t* tokens, const float* dxf);

// FLOPs counted for one forward (+ backward) of B x T tokens: matmuls, causal attention.
double train_flops_per_step(const ModelConfig& c, int B, int T, bool with_backward = true);
// The same for any net: what forward + backward execute, with the low-rank products and
// without the products the backward skips (frozen weights need no dW; nothing below the
// lowest trained tensor needs a gradient). For net_of(m) it equals train_flops_per_step.
double net_step_flops(const Net& n, int B, int T);

}  // namespace flops::train
