// Streaming calibration statistics of the inputs of linear layers.
//
// Each accumulator takes activations one batch at a time as x[rows][cols]
// (fp32, row-major: one row per token), the shape the CPU executor's
// LayerObserver hands out, and never stores the whole calibration set.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc::quant {

// Per-input-channel max |x_j| and mean |x_j| over all rows seen.
class ChannelStats {
public:
  explicit ChannelStats(int64_t cols);
  Status add(const float *x /*[rows][cols]*/, int64_t rows, int64_t cols);

  int64_t cols() const { return static_cast<int64_t>(absMax_.size()); }
  int64_t rows() const { return rows_; }
  const std::vector<float> &absMax() const { return absMax_; } // [cols]
  std::vector<float> meanAbs() const;                           // [cols]; zeros before any row

private:
  std::vector<float> absMax_;  // [cols]
  std::vector<double> sumAbs_; // [cols]
  int64_t rows_ = 0;
};

// GPTQ's Hessian H = 2/n * sum over rows of x x^T, accumulated in fp32 with
// the running rescale H <- H * n/(n+m) + 2/(n+m) * X^T X (as llm-compressor).
// n counts rows (tokens); llm-compressor counts sequences. GPTQ is invariant
// to a positive factor on H (the dampening is relative to mean(diag H)).
class HessianAccumulator {
public:
  explicit HessianAccumulator(int64_t cols);
  Status add(const float *x /*[rows][cols]*/, int64_t rows, int64_t cols);

  int64_t cols() const { return cols_; }
  int64_t rows() const { return rows_; }
  const std::vector<float> &hessian() const { return h_; } // [cols][cols], symmetric

private:
  int64_t cols_;
  int64_t rows_ = 0;
  std::vector<float> h_; // [cols][cols]
};

// Keeps the first `maxRows` rows seen (AWQ's search needs real activations).
class RowSample {
public:
  RowSample(int64_t cols, int64_t maxRows) : cols_(cols), maxRows_(maxRows) {}
  Status add(const float *x /*[rows][cols]*/, int64_t rows, int64_t cols);
  int64_t rows() const { return static_cast<int64_t>(data_.size()) / (cols_ ? cols_ : 1); }
  const std::vector<float> &data() const { return data_; } // [rows()][cols]

private:
  int64_t cols_, maxRows_;
  std::vector<float> data_;
};

// What a CalibrationCollector gathers for each observed linear.
struct CollectOptions {
  bool hessian = false;    // GPTQ
  int64_t keepRows = 0;    // AWQ: rows kept per linear (0: none)
};

struct LinearStats {
  ChannelStats channels;
  std::unique_ptr<HessianAccumulator> hessian; // when CollectOptions::hessian
  std::unique_ptr<RowSample> sample;           // when keepRows > 0
  explicit LinearStats(int64_t cols) : channels(cols) {}
};

// Statistics per linear, keyed by Hugging Face name ("model.layers.0.mlp.up_proj").
// observe() has the executor observer's shape; the first error (a linear
// observed with two different widths) is kept in status().
class CalibrationCollector {
public:
  explicit CalibrationCollector(CollectOptions opts = {}) : opts_(opts) {}
  void observe(const std::string &name, const float *x, int64_t rows, int64_t cols);
  const LinearStats *find(const std::string &name) const;
  const Status &status() const { return status_; }
  void clear() { stats_.clear(); }

private:
  CollectOptions opts_;
  std::map<std::string, std::unique_ptr<LinearStats>> stats_;
  Status status_ = Status::ok();
};

} // namespace qcc::quant
