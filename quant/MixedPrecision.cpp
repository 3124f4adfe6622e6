#include "quant/MixedPrecision.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qcc::quant {

Expected<KnapsackTable> KnapsackTable::build(std::vector<KnapsackGroup> groups, int64_t capacity,
                                             const KnapsackOptions &options) {
  KnapsackTable t;
  if (capacity < 0) return Status::error("the budget is negative");
  for (const KnapsackGroup &g : groups) {
    if (g.choices.empty()) return Status::error("group " + g.name + " has no choice");
    if (g.choices.size() > std::numeric_limits<uint16_t>::max())
      return Status::error("group " + g.name + " has more than 65535 choices");
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (const KnapsackChoice &c : g.choices) {
      if (!(c.cost >= 0) || !std::isfinite(c.cost))
        return Status::error("group " + g.name + ": a choice has a cost that is negative or not finite");
      if (c.weight < 0) return Status::error("group " + g.name + ": a choice has a negative weight");
      lo = std::min(lo, c.weight);
      hi = std::max(hi, c.weight);
    }
    t.minOfGroup_.push_back(lo);
    t.minWeight_ += lo;
    t.maxWeight_ += hi;
  }
  t.capacity_ = capacity;
  // Weights beyond every group's heaviest choice change nothing.
  const int64_t range = std::max<int64_t>(0, std::min(capacity, t.maxWeight_) - t.minWeight_);
  int64_t unit = 0;
  for (size_t g = 0; g < groups.size(); ++g)
    for (const KnapsackChoice &c : groups[g].choices) unit = std::gcd(unit, c.weight - t.minOfGroup_[g]);
  if (unit == 0) unit = 1;
  int64_t maxStates = options.maxStates > 0 ? options.maxStates : int64_t(1) << 20;
  if (options.maxStates <= 0 && !groups.empty())
    maxStates = std::max<int64_t>(2, std::min<int64_t>(maxStates, (int64_t(1) << 27) / int64_t(groups.size())));
  if (range / unit + 1 > maxStates) {
    unit = (range + maxStates - 2) / (maxStates - 1); // ceil(range / (maxStates - 1))
    t.coarsened_ = true;
  }
  t.unit_ = unit;
  t.states_ = range / unit + 1;
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<int64_t> units;
    for (const KnapsackChoice &c : groups[g].choices) {
      const int64_t slack = c.weight - t.minOfGroup_[g];
      units.push_back(t.coarsened_ ? (slack + unit - 1) / unit : slack / unit);
    }
    t.slackUnits_.push_back(std::move(units));
  }

  // best[s]: the least cost of the groups so far with slack units <= s.
  const int64_t S = t.states_;
  std::vector<double> best(S, 0.0), next(S);
  t.choiceTable_.assign(groups.size() * size_t(S), 0);
  for (size_t g = 0; g < groups.size(); ++g) {
    uint16_t *chosen = t.choiceTable_.data() + g * size_t(S);
    const std::vector<int64_t> &units = t.slackUnits_[g];
    for (int64_t s = 0; s < S; ++s) {
      double bestCost = std::numeric_limits<double>::infinity();
      uint16_t bestChoice = 0;
      for (size_t c = 0; c < units.size(); ++c) {
        if (units[c] > s) continue;
        const double cost = best[s - units[c]] + groups[g].choices[c].cost;
        if (cost < bestCost) bestCost = cost, bestChoice = uint16_t(c); // strict: the earliest wins a tie
      }
      next[s] = bestCost;
      chosen[s] = bestChoice;
    }
    best.swap(next);
  }
  t.best_ = std::move(best);
  t.groups_ = std::move(groups);
  return t;
}

Expected<KnapsackSolution> KnapsackTable::solve(int64_t capacity) const {
  if (capacity < minWeight_)
    return Status::error("the budget " + std::to_string(capacity) + " is below the smallest possible total " +
                         std::to_string(minWeight_));
  if (capacity > capacity_)
    return Status::error("the budget " + std::to_string(capacity) + " exceeds the table's " + std::to_string(capacity_));
  const int64_t limit = std::min<int64_t>((capacity - minWeight_) / unit_, states_ - 1);
  // The lowest cost within the budget, then the smallest weight that reaches it.
  const double bestCost = best_[size_t(limit)];
  int64_t s = limit;
  while (s > 0 && best_[size_t(s - 1)] == bestCost) --s;
  KnapsackSolution out;
  out.unit = unit_;
  out.coarsened = coarsened_;
  out.choice.assign(groups_.size(), 0);
  // Backtrack: the choice recorded for (group, s) reached the best cost at s
  // on top of the earlier groups' best at s - its slack.
  for (size_t g = groups_.size(); g-- > 0;) {
    const size_t c = choiceTable_[g * size_t(states_) + size_t(s)];
    out.choice[g] = c;
    s -= slackUnits_[g][c];
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    out.cost += groups_[g].choices[out.choice[g]].cost;
    out.weight += groups_[g].choices[out.choice[g]].weight;
  }
  return out;
}

Expected<KnapsackSolution> solveKnapsack(std::vector<KnapsackGroup> groups, int64_t capacity,
                                         const KnapsackOptions &options) {
  auto table = KnapsackTable::build(std::move(groups), capacity, options);
  if (!table) return table.status();
  return table->solve(capacity);
}

} // namespace qcc::quant
