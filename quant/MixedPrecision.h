// The exact solver behind `--format auto`: a multiple-choice knapsack.
//
// Each group (one layer, or the linears of one fusion group such as q|k|v)
// must take exactly one of its choices; a choice has a cost (the summed
// sensitivity of its layers) and an integer weight (bytes, or picoseconds of
// estimated time). The solver minimises the total cost with the total weight
// at most the capacity, by dynamic programming over the weight:
//
//   slack of a choice = weight - the group's lightest choice (>= 0)
//   unit  = gcd of all slacks (exact), or, when (capacity - lightest total) /
//           gcd exceeds the state limit, ceil(range / limit) with every slack
//           rounded up to whole units (then the result still meets the budget,
//           and it is optimal among assignments whose rounded weight fits;
//           `coarsened` says so)
//   best[g][s] = min over choices c of group g: best[g-1][s - slack_c] + cost_c
//
// Ties are broken deterministically: the lowest cost, then the lowest total
// weight, then, group by group, the earliest choice in the caller's order.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::quant {

struct KnapsackChoice {
  double cost = 0;    // >= 0 and finite
  int64_t weight = 0; // >= 0
};

struct KnapsackGroup {
  std::string name;                   // for messages
  std::vector<KnapsackChoice> choices; // at least one
};

struct KnapsackOptions {
  // Most DP states per group (0: the default, 2^20, lowered so that the
  // choice table stays within 2^27 entries).
  int64_t maxStates = 0;
};

struct KnapsackSolution {
  std::vector<size_t> choice; // per group
  double cost = 0;
  int64_t weight = 0;      // exact total weight of the chosen choices
  int64_t unit = 1;        // DP weight unit
  bool coarsened = false;  // slacks were rounded up to `unit` (see above)
};

// The DP table over every capacity up to `capacity`: solutions for any
// smaller budget (a Pareto sweep) come from the same table.
class KnapsackTable {
public:
  // Fails on a malformed problem (no choices, negative or non-finite values).
  static Expected<KnapsackTable> build(std::vector<KnapsackGroup> groups, int64_t capacity,
                                       const KnapsackOptions &options = {});

  // The smallest total weight any assignment has (every group's lightest choice).
  int64_t minimumWeight() const { return minWeight_; }
  // The total weight when every group takes its heaviest choice.
  int64_t maximumWeight() const { return maxWeight_; }
  // The best assignment with total weight <= capacity (<= the build capacity);
  // an error when capacity < minimumWeight().
  Expected<KnapsackSolution> solve(int64_t capacity) const;

private:
  std::vector<KnapsackGroup> groups_;
  std::vector<int64_t> minOfGroup_;
  std::vector<std::vector<int64_t>> slackUnits_; // per group, per choice
  int64_t minWeight_ = 0, maxWeight_ = 0, capacity_ = 0, unit_ = 1, states_ = 1;
  bool coarsened_ = false;
  std::vector<double> best_;          // [states]: after the last group
  std::vector<uint16_t> choiceTable_; // [groups][states]
};

// build + solve at the capacity: the usual one-shot call.
Expected<KnapsackSolution> solveKnapsack(std::vector<KnapsackGroup> groups, int64_t capacity,
                                         const KnapsackOptions &options = {});

} // namespace qcc::quant
