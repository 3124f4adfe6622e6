// The `--format auto` solver on hand-made tables with known optima, against
// exhaustive search on random small tables, on infeasible budgets and ties;
// and the roofline cost model on hand-computed figures.
#include "quant/CostModel.h"
#include "quant/MixedPrecision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace {

using qcc::quant::KnapsackChoice;
using qcc::quant::KnapsackGroup;
using qcc::quant::KnapsackTable;
using qcc::quant::solveKnapsack;

KnapsackGroup group(std::string name, std::vector<KnapsackChoice> choices) {
  return KnapsackGroup{std::move(name), std::move(choices)};
}

// Three layers x (bf16, int8, w4a16) with bytes 16/8/4 and KL 0/a/b; the
// optimum is worked out by hand below.
std::vector<KnapsackGroup> threeLayers() {
  return {group("a", {{0.0, 16}, {0.10, 8}, {0.50, 4}}),
          group("b", {{0.0, 16}, {0.01, 8}, {0.02, 4}}),
          group("c", {{0.0, 16}, {0.30, 8}, {0.90, 4}})};
}

TEST(MixedPrecisionSolver, HandMadeOptima) {
  // Everything fits: all bf16, cost 0.
  auto all = solveKnapsack(threeLayers(), 48);
  ASSERT_TRUE(all) << all.message();
  EXPECT_EQ(all->choice, (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(all->cost, 0.0);
  EXPECT_EQ(all->weight, 48);
  // 36 bytes: drop 12 bytes at least cost: b -> w4a16 (12 bytes, 0.02).
  auto b36 = solveKnapsack(threeLayers(), 36);
  ASSERT_TRUE(b36);
  EXPECT_EQ(b36->choice, (std::vector<size_t>{0, 2, 0}));
  EXPECT_DOUBLE_EQ(b36->cost, 0.02);
  // 28 bytes: b w4a16 (-12) and a int8 (-8) = 0.12; c int8 instead of a: 0.32.
  auto b28 = solveKnapsack(threeLayers(), 28);
  ASSERT_TRUE(b28);
  EXPECT_EQ(b28->choice, (std::vector<size_t>{1, 2, 0}));
  EXPECT_DOUBLE_EQ(b28->cost, 0.12);
  EXPECT_EQ(b28->weight, 28);
  // 20 bytes: a int8 + b w4a16 + c int8 = 0.42 (a w4a16 + b w4a16 + c bf16 = 0.52).
  auto b20 = solveKnapsack(threeLayers(), 20);
  ASSERT_TRUE(b20);
  EXPECT_EQ(b20->choice, (std::vector<size_t>{1, 2, 1}));
  EXPECT_NEAR(b20->cost, 0.42, 1e-12);
  // The floor: everything w4a16.
  auto b12 = solveKnapsack(threeLayers(), 12);
  ASSERT_TRUE(b12);
  EXPECT_EQ(b12->choice, (std::vector<size_t>{2, 2, 2}));
}

TEST(MixedPrecisionSolver, InfeasibleBudgetSaysTheSmallest) {
  auto table = KnapsackTable::build(threeLayers(), 11);
  ASSERT_TRUE(table) << table.message();
  EXPECT_EQ(table->minimumWeight(), 12);
  EXPECT_EQ(table->maximumWeight(), 48);
  auto none = table->solve(11);
  ASSERT_FALSE(none);
  EXPECT_NE(none.message().find("smallest possible total 12"), std::string::npos) << none.message();
}

TEST(MixedPrecisionSolver, MalformedProblemsAreErrors) {
  EXPECT_FALSE(solveKnapsack({group("empty", {})}, 10));
  EXPECT_FALSE(solveKnapsack({group("nan", {{std::nan(""), 1}})}, 10));
  EXPECT_FALSE(solveKnapsack({group("neg", {{-1.0, 1}})}, 10));
  EXPECT_FALSE(solveKnapsack({group("negw", {{1.0, -1}})}, 10));
  auto none = solveKnapsack({}, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->choice.empty());
}

TEST(MixedPrecisionSolver, TiesGoToTheLighterThenTheEarlierChoice) {
  // Equal cost: the lighter choice, even with room for the heavier.
  auto lighter = solveKnapsack({group("x", {{0.5, 10}, {0.5, 6}, {0.7, 2}})}, 100);
  ASSERT_TRUE(lighter);
  EXPECT_EQ(lighter->choice[0], 1u);
  // Equal cost and weight: the earlier choice.
  auto earlier = solveKnapsack({group("x", {{0.3, 4}, {0.3, 4}}), group("y", {{0.0, 2}, {0.0, 2}})}, 100);
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->choice, (std::vector<size_t>{0, 0}));
  // Two assignments with the same total cost and weight across groups: the
  // earlier choice of the last group decides (deterministic, documented).
  auto across = solveKnapsack({group("p", {{0.0, 8}, {0.1, 4}}), group("q", {{0.0, 8}, {0.1, 4}})}, 12);
  ASSERT_TRUE(across);
  EXPECT_DOUBLE_EQ(across->cost, 0.1);
  EXPECT_EQ(across->choice, (std::vector<size_t>{1, 0}));
}

// Exhaustive search: the least cost within the capacity.
double bruteForce(const std::vector<KnapsackGroup> &groups, int64_t capacity) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> idx(groups.size(), 0);
  while (true) {
    int64_t w = 0;
    double c = 0;
    for (size_t g = 0; g < groups.size(); ++g) w += groups[g].choices[idx[g]].weight, c += groups[g].choices[idx[g]].cost;
    if (w <= capacity) best = std::min(best, c);
    size_t g = 0;
    while (g < groups.size() && ++idx[g] == groups[g].choices.size()) idx[g++] = 0;
    if (g == groups.size()) break;
  }
  return best;
}

TEST(MixedPrecisionSolver, MatchesExhaustiveSearchOnRandomTables) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    const int numGroups = 1 + int(rng() % 6);
    std::vector<KnapsackGroup> groups;
    for (int g = 0; g < numGroups; ++g) {
      KnapsackGroup grp{"g" + std::to_string(g), {}};
      const int numChoices = 1 + int(rng() % 5);
      for (int c = 0; c < numChoices; ++c)
        grp.choices.push_back({double(rng() % 1000) / 997.0, int64_t(rng() % 40) * 3});
      groups.push_back(grp);
    }
    auto table = KnapsackTable::build(groups, 400);
    ASSERT_TRUE(table) << table.message();
    for (int64_t cap = table->minimumWeight(); cap <= std::min<int64_t>(400, table->maximumWeight() + 3); cap += 7) {
      auto sol = table->solve(cap);
      ASSERT_TRUE(sol) << sol.message();
      EXPECT_FALSE(sol->coarsened);
      EXPECT_LE(sol->weight, cap);
      EXPECT_DOUBLE_EQ(sol->cost, bruteForce(groups, cap)) << "trial " << trial << " capacity " << cap;
      double sum = 0;
      int64_t w = 0;
      for (size_t g = 0; g < groups.size(); ++g) sum += groups[g].choices[sol->choice[g]].cost, w += groups[g].choices[sol->choice[g]].weight;
      EXPECT_EQ(sum, sol->cost);
      EXPECT_EQ(w, sol->weight);
    }
  }
}

TEST(MixedPrecisionSolver, CoarsenedTablesStillMeetTheBudget) {
  std::mt19937 rng(3);
  std::vector<KnapsackGroup> groups;
  for (int g = 0; g < 20; ++g)
    groups.push_back(group("g", {{0.0, 2000003 + int64_t(rng() % 1000)}, {0.01 * (rng() % 100), 1000001 + int64_t(rng() % 1000)},
                                 {0.05 * (rng() % 100), 500007}}));
  qcc::quant::KnapsackOptions options;
  options.maxStates = 1000;
  auto table = KnapsackTable::build(groups, 30000000, options);
  ASSERT_TRUE(table) << table.message();
  for (int64_t cap = table->minimumWeight(); cap <= 30000000; cap += 1234567) {
    auto sol = table->solve(cap);
    ASSERT_TRUE(sol) << sol.message();
    EXPECT_TRUE(sol->coarsened);
    EXPECT_LE(sol->weight, cap);
  }
}

TEST(MixedPrecisionSolver, CostFallsAsTheBudgetGrows) {
  auto table = KnapsackTable::build(threeLayers(), 48);
  ASSERT_TRUE(table);
  double last = std::numeric_limits<double>::infinity();
  for (int64_t cap = 12; cap <= 48; ++cap) {
    auto sol = table->solve(cap);
    ASSERT_TRUE(sol);
    EXPECT_LE(sol->cost, last);
    last = sol->cost;
  }
}

using qcc::formats::Format;
using qcc::formats::FormatSpec;

TEST(CostModel, HandComputedRooflines) {
  auto a100 = qcc::quant::lookupGpu("a100");
  auto h100 = qcc::quant::lookupGpu("H100");
  ASSERT_TRUE(a100 && h100);
  // A100, bf16, 4096 x 4096 at M = 2048: compute-bound,
  // 2 * 2048 * 4096^2 / 312e12 s = 220.2547... us.
  EXPECT_NEAR(qcc::quant::gemmMicros(**a100, {Format::BF16, 0}, {{4096, 4096}}, 2048), 220.2547, 1e-3);
  // H100, bf16, M = 1: memory-bound, (2*4096*4096 + 2*4096 + 2*4096) / 3.35e12 s = 10.0211... us.
  EXPECT_NEAR(qcc::quant::gemmMicros(**h100, {Format::BF16, 0}, {{4096, 4096}}, 1), 10.02113, 1e-4);
  // int8 at M = 2048 on A100 runs at 624 TOPS: half the bf16 time.
  EXPECT_NEAR(qcc::quant::gemmMicros(**a100, {Format::INT8, 0}, {{4096, 4096}}, 2048), 110.1274, 1e-3);
  // fp8 on A100 (no fp8 tensor cores) is weight-only: bf16 rate.
  EXPECT_NEAR(qcc::quant::gemmMicros(**a100, {Format::FP8, 0}, {{4096, 4096}}, 2048), 220.2547, 1e-3);
  // Decode: fewer weight bytes, less time: w4a16 < int8 < bf16.
  const double bf16 = qcc::quant::gemmMicros(**h100, {Format::BF16, 0}, {{4096, 4096}}, 1);
  const double int8 = qcc::quant::gemmMicros(**h100, {Format::INT8, 0}, {{4096, 4096}}, 1);
  const double w4 = qcc::quant::gemmMicros(**h100, {Format::W4A16, 128}, {{4096, 4096}}, 1);
  EXPECT_LT(w4, int8);
  EXPECT_LT(int8, bf16);
  // Weight bytes: codes + fp32 scales.
  EXPECT_EQ(qcc::quant::linearWeightBytes({Format::W4A16, 128}, 4096, 4096), 4096 * 2048 + 4 * 4096 * 32);
  EXPECT_EQ(qcc::quant::linearWeightBytes({Format::INT8, 0}, 1024, 4096), 1024 * 4096 + 4 * 1024);
}

TEST(CostModel, MeasuredTimesReplaceTheEstimate) {
  auto l40s = qcc::quant::lookupGpu("sm89");
  ASSERT_TRUE(l40s);
  EXPECT_STREQ((*l40s)->name, "l40s");
  qcc::quant::MeasuredTime measured = [](const std::string &arch, const std::string &format, int64_t n, int64_t k,
                                         bool decode) -> std::optional<double> {
    if (arch == "sm_89" && format == "int8" && n == 6144 && k == 4096 && decode) return 12.5;
    return std::nullopt;
  };
  // q|k|v stacked: 4096 + 1024 + 1024 rows.
  EXPECT_EQ(qcc::quant::gemmMicros(**l40s, {Format::INT8, 0}, {{4096, 4096}, {1024, 4096}, {1024, 4096}}, 1, measured),
            12.5);
  EXPECT_NE(qcc::quant::gemmMicros(**l40s, {Format::INT8, 0}, {{4096, 4096}, {1024, 4096}, {1024, 4096}}, 2048, measured),
            12.5);
  EXPECT_FALSE(qcc::quant::lookupGpu("v100"));
}

} // namespace
