// flops estimate: the unit parser, the published GPT-3 figures the presets must
// reproduce, claims, Chinchilla planning, error messages, and agreement of the
// inference formula with ModelConfig::forward_flops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "cost/estimate.h"
#include "model/gguf.h"
#include "test_util.h"

using namespace flops;
using namespace flops::cost;

namespace {

// The message of the flops::Error that f throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(expr, ...)                                             \
  do {                                                                      \
    std::string msg_ = error_of([&] { (void)(expr); });                     \
    ASSERT_FALSE(msg_.empty()) << #expr " did not throw";                   \
    EXPECT_EQ(msg_.find('\n'), std::string::npos) << msg_;                  \
    for (const char* w_ : {__VA_ARGS__}) EXPECT_NE(msg_.find(w_), std::string::npos) << "'" << w_ << "' not in: " << msg_; \
  } while (0)

Estimate run(const Args& a) { return estimate(make_input(a)); }

const Row& result(const Estimate& e, const std::string& key) {
  for (const Row& r : e.results)
    if (r.key == key) return r;
  static Row none;
  ADD_FAILURE() << "no result row " << key;
  return none;
}

std::string printed(const Estimate& e) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_estimate(f, e);
  std::fclose(f);
  std::string s(buf, len);
  free(buf);
  return s;
}

}  // namespace

// ---- units ----

TEST(CostUnits, ParsesTheFiguresPeopleQuote) {
  EXPECT_DOUBLE_EQ(parse_quantity("1 TWh", Dim::Energy, "x"), 3.6e15);
  EXPECT_DOUBLE_EQ(parse_quantity("936 MWh", Dim::Energy, "x"), 936 * 3.6e9);
  EXPECT_DOUBLE_EQ(parse_quantity("190,000 kWh", Dim::Energy, "x"), 190000 * 3.6e6);
  EXPECT_DOUBLE_EQ(parse_quantity("5 kJ", Dim::Energy, "x"), 5000);
  EXPECT_DOUBLE_EQ(parse_quantity("1.5e23", Dim::Flops, "x"), 1.5e23);
  EXPECT_DOUBLE_EQ(parse_quantity("3.14e23 FLOP", Dim::Flops, "x"), 3.14e23);
  EXPECT_DOUBLE_EQ(parse_quantity("3.14E+23 FLOPs", Dim::Flops, "x"), 3.14e23);
  EXPECT_DOUBLE_EQ(parse_quantity("3640 PF-days", Dim::Flops, "x"), 3640 * 1e15 * 86400);
  EXPECT_DOUBLE_EQ(parse_quantity("300 W", Dim::Power, "x"), 300);
  EXPECT_DOUBLE_EQ(parse_quantity("0.3kW", Dim::Power, "x"), 300);
  EXPECT_DOUBLE_EQ(parse_quantity("14.8 days", Dim::Time, "x"), 14.8 * 86400);
  EXPECT_DOUBLE_EQ(parse_quantity("2 h", Dim::Time, "x"), 7200);
  EXPECT_DOUBLE_EQ(parse_quantity("552 tCO2e", Dim::Mass, "x"), 552e6);
  EXPECT_DOUBLE_EQ(parse_quantity("85,000 kg CO2e", Dim::Mass, "x"), 85e6);
  EXPECT_DOUBLE_EQ(parse_quantity("175B", Dim::Count, "x"), 175e9);
  EXPECT_DOUBLE_EQ(parse_quantity("175 billion parameters", Dim::Count, "x"), 175e9);
  EXPECT_DOUBLE_EQ(parse_quantity("10,000", Dim::Count, "x"), 1e4);
  EXPECT_DOUBLE_EQ(parse_quantity("1.4T tokens", Dim::Count, "x"), 1.4e12);
  EXPECT_DOUBLE_EQ(parse_quantity("28 TFLOP/s", Dim::FlopRate, "x"), 28e12);
  EXPECT_DOUBLE_EQ(parse_quantity("125 TFLOPS", Dim::FlopRate, "x"), 125e12);
  EXPECT_DOUBLE_EQ(parse_quantity("429 g/kWh", Dim::Intensity, "x"), 429);
  EXPECT_DOUBLE_EQ(parse_quantity("0.429 kgCO2e/kWh", Dim::Intensity, "x"), 429);
  EXPECT_DOUBLE_EQ(parse_quantity("40%", Dim::Fraction, "x"), 0.4);
  EXPECT_DOUBLE_EQ(parse_quantity("0.4", Dim::Fraction, "x"), 0.4);
  EXPECT_DOUBLE_EQ(parse_quantity("$0.10/kWh", Dim::Price, "x"), 0.10);
}

TEST(CostUnits, BadInputNamesTheField) {
  EXPECT_ERROR(parse_quantity("300 X", Dim::Power, "--power"), "--power", "unknown unit", "300 X");
  EXPECT_ERROR(parse_quantity("lots", Dim::Count, "--params"), "--params", "number");
  EXPECT_ERROR(parse_quantity("", Dim::Count, "--tokens"), "--tokens", "empty");
  EXPECT_ERROR(parse_quantity("1 TWh", Dim::Power, "--power"), "--power", "unknown unit");
  EXPECT_ERROR(parse_quantity("40", Dim::Fraction, "--mfu"), "--mfu", "above 1");
  EXPECT_ERROR(parse_quantity("1e999", Dim::Count, "--params"), "--params", "finite");
  EXPECT_ERROR(parse_positive("-5", Dim::Count, "--devices"), "--devices", "greater than zero");
  EXPECT_ERROR(parse_positive("0", Dim::Count, "--devices"), "--devices", "greater than zero");
  EXPECT_ERROR(parse_claim("5", "--claim"), "--claim", "no unit");
  EXPECT_ERROR(parse_claim("5 parsecs", "--claim"), "--claim", "unknown unit");
}

TEST(CostUnits, ClaimsInferTheirDimension) {
  EXPECT_EQ(parse_claim("1 TWh", "c").dim, Dim::Energy);
  EXPECT_EQ(parse_claim("552 tCO2e", "c").dim, Dim::Mass);
  EXPECT_EQ(parse_claim("14.8 days", "c").dim, Dim::Time);
  EXPECT_EQ(parse_claim("3.14e23 FLOP", "c").dim, Dim::Flops);
  EXPECT_DOUBLE_EQ(parse_claim("85,000 kgCO2e", "c").value, 85e6);
}

TEST(CostUnits, FormatsLikeThePublishedFigures) {
  EXPECT_EQ(format_energy(1404 * 3.6e9), "1,404 MWh");
  EXPECT_EQ(format_energy(936 * 3.6e9), "936 MWh");
  EXPECT_EQ(format_energy(3.6e15), "1.00 TWh");
  EXPECT_EQ(format_time(13.0 * 86400), "13.0 days");
  EXPECT_EQ(format_mass(552.123e6), "552 tCO2e");
  EXPECT_EQ(format_flops(3.15e23), "3.15e23 FLOP");
  EXPECT_EQ(format_flop_rate(28e12), "28.0 TFLOP/s");
  EXPECT_EQ(format_count(5.7038e6), "5.70 million");
  EXPECT_EQ(format_int(3552000), "3,552,000");
}

// ---- presets: the figures in the issue ----

TEST(CostPresets, Gpt3Arithmetic) {
  Estimate e = run({{"preset", "gpt3"}});
  EXPECT_DOUBLE_EQ(e.flops, 3.15e23);  // 6 x 175e9 x 300e9
  EXPECT_NEAR(e.wall_computed_s / 86400, 13.02, 0.005);  // 3.15e23 / (10,000 x 28e12)
  EXPECT_EQ(format_time(e.wall_computed_s), "13.0 days");
  EXPECT_NEAR(e.energy_it_j / 3.6e9, 936.0, 1e-9);      // MWh
  EXPECT_NEAR(e.energy_facility_j / 3.6e9, 1404.0, 1e-9);
  EXPECT_EQ(result(e, "energy_it").text, "936 MWh");
  EXPECT_EQ(result(e, "energy_facility").text, "1,404 MWh");
  EXPECT_EQ(result(e, "flops_train").text, "3.15e23 FLOP");
  EXPECT_NE(result(e, "flops_train").published.find("3.14e23"), std::string::npos);
  EXPECT_NEAR(e.mfu, 28.0 / 125.0, 1e-12);
  std::string out = printed(e);
  for (const char* s : {"936 MWh", "1,404 MWh", "13.0 days", "3.15e23 FLOP", "6 N D", "13.02 days"})
    EXPECT_NE(out.find(s), std::string::npos) << s;
}

TEST(CostPresets, Gpt3WithoutTheRoundedDaysIsStatedExactly) {
  // Same inputs without the published 13.0-day rounding: 937.5 MWh.
  Estimate e = run({{"params", "175B"}, {"tokens", "300B"}, {"hardware", "v100-sxm2"}, {"devices", "10000"},
                    {"sustained", "28 TFLOP/s"}, {"power", "300 W"}, {"pue", "1.5"}});
  EXPECT_NEAR(e.energy_it_j / 3.6e9, 937.5, 1e-6);
  EXPECT_NEAR(e.energy_facility_j / 3.6e9, 1406.25, 1e-6);
}

TEST(CostPresets, Gpt3Patterson) {
  Estimate e = run({{"preset", "gpt3-patterson"}});
  EXPECT_NEAR(e.energy_facility_j / 3.6e9, 1287.0, 1e-6);  // MWh
  EXPECT_NEAR(e.co2e_g / 1e6, 552.0, 0.5);                  // t: 1,287 MWh x 0.429
  EXPECT_NEAR(e.device_hours, 3.552e6, 1e-3);
  EXPECT_NEAR(e.power_w, 330, 1);                           // "about 330 W"
  EXPECT_DOUBLE_EQ(e.grid.g_per_kwh, 429);
  EXPECT_EQ(result(e, "energy_facility").text, "1,287 MWh");
  EXPECT_EQ(result(e, "co2e").text, "552 tCO2e");
  EXPECT_EQ(result(e, "device_hours").text, "3,552,000");
}

TEST(CostPresets, OneTerawattHourIsMillionsOfBrainYears) {
  EXPECT_NEAR(brain_years(3.6e15) / 1e6, 5.7, 0.01);
  EXPECT_EQ(format_count(brain_years(3.6e15)), "5.70 million");
}

TEST(CostPresets, ClaimOfOneTerawattHourIsAbout780x) {
  Estimate e = run({{"preset", "gpt3-patterson"}, {"claim", "1 TWh"}});
  ASSERT_TRUE(e.claim);
  EXPECT_EQ(e.claim->compared_to, "energy_facility");
  EXPECT_NEAR(e.claim->ratio, 1e6 / 1287.0, 1e-6);  // 777
  EXPECT_NEAR(e.claim->brain_years / 1e6, 5.7, 0.01);
  nlohmann::json j = to_json(e);
  EXPECT_EQ(j["claim"]["summary"], "about 780x");
  std::string out = printed(e);
  EXPECT_NE(out.find("about 780x"), std::string::npos) << out;
  EXPECT_NE(out.find("5.70 million years"), std::string::npos) << out;
  // The published figures survive a claim (it changes no input).
  EXPECT_EQ(result(e, "co2e").published, "552 tCO2e");
  // Other claims compare with their own dimension.
  Estimate m = run({{"preset", "gpt3-patterson"}, {"claim", "85,000 kgCO2e"}});
  EXPECT_EQ(m.claim->compared_to, "co2e");
  EXPECT_LT(m.claim->ratio, 1);
  EXPECT_EQ(to_json(m)["claim"]["summary"], "about 6.5x smaller");
}

TEST(CostPresets, OverridingAPresetDropsItsPublishedFigures) {
  Estimate e = run({{"preset", "gpt3"}, {"devices", "5000"}});
  EXPECT_TRUE(result(e, "energy_it").published.empty());
  EXPECT_NE(e.in.title.find("--devices"), std::string::npos);
}

TEST(CostPresets, JsonIsOneObjectWithFormulas) {
  Estimate e = run({{"preset", "gpt3"}});
  nlohmann::json j = nlohmann::json::parse(to_json(e).dump());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["preset"], "gpt3");
  EXPECT_DOUBLE_EQ(j["results"]["flops_train"]["value"].get<double>(), 3.15e23);
  EXPECT_NE(j["results"]["flops_train"]["formula"].get<std::string>().find("6 N D"), std::string::npos);
  EXPECT_EQ(j["results"]["energy_facility"]["published"], "1,404 MWh");
  EXPECT_FALSE(j["assumptions"]["hardware"]["source"].get<std::string>().empty());
  EXPECT_EQ(j["hardware"]["key"], "v100-sxm2");
}

// ---- planning and equivalents ----

TEST(CostPlanning, ChinchillaOptimal) {
  // Chinchilla itself: 70B parameters on 1.4T tokens, C = 6 x 70e9 x 1.4e12 = 5.88e23.
  ChinchillaPlan p = chinchilla_optimal(5.88e23);
  EXPECT_NEAR(p.n, 70e9, 1e3);
  EXPECT_NEAR(p.d, 1.4e12, 1e4);
  Estimate e = run({{"budget", "5.88e23"}, {"hardware", "a100"}, {"devices", "1024"}, {"mfu", "40%"}});
  EXPECT_TRUE(e.chinchilla);
  EXPECT_NEAR(e.flops / 5.88e23, 1.0, 1e-12);  // the plan spends exactly the budget
  EXPECT_NEAR(e.rate, 0.4 * 312e12, 1);
  EXPECT_NEAR(e.wall_s, 5.88e23 / (1024 * 0.4 * 312e12), 1e-6);
  EXPECT_TRUE(to_json(e).contains("chinchilla"));
}

TEST(CostPlanning, EquivalentsUseTheirStatedConstants) {
  EXPECT_NEAR(homes_powered(10715 * 3.6e6), 1.0, 1e-12);
  EXPECT_NEAR(car_km(400.0), 1.609344, 1e-12);  // 400 g is one mile
  EXPECT_NEAR(brain_years(20 * 31557600.0), 1.0, 1e-12);
}

TEST(CostPlanning, MoneyAndGrid) {
  Estimate e = run({{"params", "1B"}, {"tokens", "20B"}, {"hardware", "h100"}, {"mfu", "0.5"}, {"power", "700 W"},
                    {"carbon", "fr"}, {"price", "0.10"}, {"rent", "$2/h"}});
  EXPECT_DOUBLE_EQ(e.grid.g_per_kwh, 91);
  double kwh = e.energy_facility_j / 3.6e6;
  EXPECT_NEAR(e.money_energy, 0.10 * kwh, 1e-9);
  EXPECT_NEAR(e.money_rent, 2 * e.device_hours, 1e-9);
  EXPECT_NEAR(e.co2e_g, 91 * kwh, 1e-9);
  auto text_of = [](const Estimate& x, const std::string& key) {
    for (const Row& r : x.results)
      if (r.key == key) return r.text;
    return std::string("(no row " + key + ")");
  };
  // "$2/h" names the currency for both costs; an explicit one is printed after the number.
  EXPECT_EQ(text_of(e, "money_rent").rfind("$", 0), 0u) << text_of(e, "money_rent");
  EXPECT_EQ(text_of(e, "money_energy").rfind("$", 0), 0u) << text_of(e, "money_energy");
  Estimate eur = run({{"params", "1B"}, {"tokens", "20B"}, {"price", "0.25"}, {"currency", "EUR"}});
  std::string t = text_of(eur, "money_energy");
  EXPECT_EQ(t.substr(t.size() - 4), " EUR") << t;
  Estimate bare = run({{"params", "1B"}, {"tokens", "20B"}, {"price", "0.25"}});
  EXPECT_NE(text_of(bare, "money_energy").find("the unit --price/--rent were given in"), std::string::npos);
  Estimate n = run({{"params", "1B"}, {"tokens", "20B"}, {"carbon", "100 g/kWh"}});
  EXPECT_DOUBLE_EQ(n.grid.g_per_kwh, 100);
  EXPECT_DOUBLE_EQ(n.mfu, 0.4);  // the stated default
}

// ---- errors ----

TEST(CostErrors, OneLineNamingTheField) {
  EXPECT_ERROR(run({{"params", "1B"}, {"tokens", "1B"}, {"hardware", "v99"}}), "--hardware", "v99", "a100");
  EXPECT_ERROR(run({{"params", "-1B"}, {"tokens", "1B"}}), "--params", "greater than zero");
  EXPECT_ERROR(run({{"params", "1B"}, {"tokens", "0"}}), "--tokens", "greater than zero");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"devices", "-3"}}), "--devices");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"devices", "2.5"}}), "--devices", "whole number");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"power", "300 X"}}), "--power", "unknown unit");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"duration", "two weeks"}}), "--duration");
  EXPECT_ERROR(run({{"preset", "gpt4"}}), "--preset", "gpt4", "gpt3-patterson");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"carbon", "mars"}}), "--carbon", "mars");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"claim", "5"}}), "--claim");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"pue", "0.9"}}), "--pue", "below 1");
  EXPECT_ERROR(run({{"preset", "gpt3"}, {"mfu", "150%"}}), "--mfu");
  EXPECT_ERROR(run({{"params", "1B"}, {"tokens", "1B"}, {"hardware", "tpu-v4"}, {"precision", "fp32"}}),
               "--precision", "TPU v4");
  EXPECT_ERROR(run({{"tokens", "1B"}}), "--params");
  EXPECT_ERROR(run({{"params", "1B"}}), "--tokens");
  EXPECT_ERROR(run({{"config", "n_layer=2,n_embd=30,n_head=4,n_ff=64"}, {"tokens", "1B"}}), "--config", "divisible");
  EXPECT_ERROR(run({{"config", "n_layers=2"}, {"tokens", "1B"}}), "--config", "n_layers");
  EXPECT_ERROR(run({{"model", "/nonexistent/model.gguf"}, {"tokens", "1B"}}), "/nonexistent/model.gguf");
}

// ---- agreement with the model's own FLOP formula ----

TEST(CostFormula, Gpt3ShapedConfigHas175BParameters) {
  ModelConfig c = parse_config_spec("arch=gpt2,n_layer=96,n_embd=12288,n_head=96,n_ff=49152,n_vocab=50257");
  EXPECT_NEAR((double)c.n_params_matmul() / 175e9, 1.0, 0.01);
}

TEST(CostFormula, ForwardFlopsIs2NPerTokenPlusAttention) {
  ModelConfig c = parse_config_spec("arch=llama,n_layer=4,n_embd=64,n_head=8,n_head_kv=2,n_ff=176,n_vocab=1000");
  const double N = (double)c.n_params_matmul();
  // By hand: q, o are d x d; k, v are d x kv_dim; three FFN matrices; the output matrix.
  double d = 64, kv = 2 * 8;
  EXPECT_DOUBLE_EQ(N, 4 * (d * d * 2 + 2 * d * kv + 3 * d * 176) + 1000 * d);
  for (int64_t ctx : {0, 1, 17, 300}) {
    // QK^T and AV: 2 x head_dim FLOPs each per (head, key); ctx + 1 keys.
    double attn = 2.0 * 2.0 * 8 * 8 * (ctx + 1) * 4;
    EXPECT_DOUBLE_EQ(c.forward_flops(1, ctx), 2 * N + attn) << ctx;
  }
  // A batch costs what its tokens cost one at a time.
  double sum = 0;
  for (int i = 0; i < 25; ++i) sum += c.forward_flops(1, 7 + i);
  EXPECT_NEAR(c.forward_flops(25, 7), sum, sum * 1e-12);
}

TEST(CostFormula, InferenceEstimateMatchesForwardFlops) {
  const std::string spec = "arch=llama,n_layer=4,n_embd=64,n_head=8,n_head_kv=2,n_ff=176,n_vocab=1000";
  ModelConfig c = parse_config_spec(spec);
  Estimate e = run({{"config", spec}, {"infer-tokens", "1000"}, {"context", "300"}});
  EXPECT_NEAR(e.flops_infer, 1000 * c.forward_flops(1, 300), 1e-6 * e.flops_infer);
  // Processing T tokens from an empty cache: on average (T-1)/2 earlier tokens each.
  Estimate b = run({{"config", spec}, {"infer-tokens", "20"}, {"context", "9.5"}});
  EXPECT_NEAR(b.flops_infer, c.forward_flops(20, 0), 1e-9 * b.flops_infer);
  // Without a config the estimate says attention is missing, rather than guessing.
  Estimate p = run({{"params", "1B"}, {"infer-tokens", "1000"}});
  EXPECT_DOUBLE_EQ(p.flops_infer, 2e12);
  EXPECT_NE(result(p, "flops_infer").how.find("attention not included"), std::string::npos);
}

TEST(CostFormula, TrainingAttentionIsThreeTimesForward) {
  const std::string spec = "arch=gpt2,n_layer=2,n_embd=32,n_head=4,n_ff=128,n_vocab=300";
  ModelConfig c = parse_config_spec(spec);
  Estimate e = run({{"config", spec}, {"tokens", "64000"}, {"seq-len", "64"}});
  double N = (double)c.n_params_matmul();
  EXPECT_DOUBLE_EQ(e.flops_train, 6 * N * 64000);
  // One sequence of 64 forward costs forward_flops(64, 0); backward twice that.
  double fwd_attn_per_seq = c.forward_flops(64, 0) - 2 * N * 64;
  EXPECT_NEAR(e.flops_train_attention, 3 * fwd_attn_per_seq * 1000, 1e-6 * e.flops_train_attention);
  EXPECT_NEAR(e.flops, e.flops_train + e.flops_train_attention, 1);
  EXPECT_NEAR(training_flops(c, 64000, 64), e.flops, 1e-9 * e.flops);
}

TEST(CostFormula, ReadsNAndShapeFromAGgufFile) {
  ModelConfig c = parse_config_spec("arch=qwen2,n_layer=3,n_embd=96,n_head=6,n_head_kv=2,n_ff=256,n_vocab=500,n_ctx=128");
  GGUFWriter w;
  config_to_gguf(c, w);
  std::string path = (std::filesystem::path(test::temp_dir()) / "cost_meta.gguf").string();
  w.write(path);
  Estimate e = run({{"model", path}, {"infer-tokens", "10"}});
  EXPECT_DOUBLE_EQ(e.n_params, (double)c.n_params_matmul());
  EXPECT_NEAR(e.flops_infer, 10 * c.forward_flops(1, 0), 1e-9 * e.flops_infer);
  std::filesystem::remove(path);
}
