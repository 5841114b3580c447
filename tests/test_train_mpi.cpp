// Data-parallel training under MPI: `mpirun -np 2` on this very executable (the Worker test)
// gives the same loss curve and weights as one process with the same global batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/threads.h"
#include "test_util.h"
#include "train/rng.h"
#include "train/trainer.h"

#ifdef FLOPS_HAVE_MPI
#include <mpi.h>
#endif

using namespace flops;
using namespace flops::train;

namespace {

bool under_mpi() { return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr; }

// The run both sides do: the same model, data and global batch of 4 sequences.
std::vector<double> run(std::vector<float>* weights) {
  ModelConfig c;
  c.n_vocab = 37;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 32;
  c.n_ctx_train = 8;
  train::Model m = make_model(c, true);
  init_weights(m, 1);
  TokenData d;
  d.n_vocab = 37;
  Rng r(4);
  int32_t cur = 0;
  for (int i = 0; i < 3000; i++) {
    cur = (r.next() % 4 == 0) ? (int32_t)(r.next() % 37) : (cur + 3) % 37;
    (i < 2700 ? d.train : d.val).push_back(cur);
  }
  TrainOptions o;
  o.steps = 10;
  o.batch = 4;
  o.lr = 3e-3f;
  o.warmup = 2;
  o.seed = 17;
  o.eval_every = 5;
  o.eval_windows = 16;
  TrainResult res = run_training(m, d, o, nullptr);
  std::vector<double> losses;
  for (auto& s : res.history) {
    losses.push_back(s.loss);
    if (s.val_loss >= 0) losses.push_back(s.val_loss);
  }
  if (weights) *weights = m.w;
  return losses;
}

}  // namespace

TEST(TrainMPI, Worker) {
  if (!under_mpi()) GTEST_SKIP() << "runs only under mpirun (started by TwoRanksMatchOneProcess)";
#ifdef FLOPS_HAVE_MPI
  MPI_Init(nullptr, nullptr);
  set_threads(1);
  ASSERT_EQ(mpi_size(), 2);
  std::vector<float> w;
  std::vector<double> losses = run(&w);
  if (mpi_rank() == 0) {
    std::ofstream out(std::getenv("FLOPS_MPI_OUT"));
    out.precision(17);
    for (double l : losses) out << l << "\n";
    double norm = 0;
    for (float x : w) norm += (double)x * x;
    out << "w " << norm << "\n";
  }
  MPI_Finalize();
#endif
}

TEST(TrainMPI, TwoRanksMatchOneProcess) {
  if (under_mpi()) GTEST_SKIP() << "the launcher, not run inside mpirun";
#ifndef FLOPS_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  std::string out = test::temp_dir() + "/mpi_losses.txt";
  std::filesystem::remove(out);
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string cmd = "FLOPS_MPI_OUT=" + out +
                    " OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 " + exe +
                    " --gtest_filter=TrainMPI.Worker > " + out + ".log 2>&1";
  int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << "mpirun failed; see " << out << ".log";

  set_threads(1);
  std::vector<float> w1;
  std::vector<double> ref = run(&w1);
  double norm1 = 0;
  for (float x : w1) norm1 += (double)x * x;

  std::ifstream in(out);
  std::vector<double> got;
  std::string tok;
  double norm2 = -1;
  while (in >> tok) {
    if (tok == "w") {
      in >> norm2;
      break;
    }
    got.push_back(std::stod(tok));
  }
  ASSERT_EQ(got.size(), ref.size()) << "2-rank run wrote " << got.size() << " losses";
  for (size_t i = 0; i < ref.size(); i++) EXPECT_NEAR(got[i], ref[i], 1e-5 * std::abs(ref[i])) << "loss " << i;
  EXPECT_NEAR(norm2, norm1, 1e-5 * norm1);
  EXPECT_LT(ref[ref.size() - 2], ref[0]) << "the run does not learn";
#endif
}
