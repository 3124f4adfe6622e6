#include "quant/Stats.h"

#include <algorithm>
#include <cmath>

namespace qcc::quant {

static Status checkShape(const char *what, int64_t rows, int64_t cols, int64_t expected) {
  if (rows < 0 || cols != expected)
    return Status::error(std::string(what) + ": got input [" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "], expected " + std::to_string(expected) +
                         " columns");
  return Status::ok();
}

ChannelStats::ChannelStats(int64_t cols) : absMax_(cols, 0.0f), sumAbs_(cols, 0.0) {}

Status ChannelStats::add(const float *x, int64_t rows, int64_t cols) {
  QCC_RETURN_IF_ERROR(checkShape("channel stats", rows, cols, this->cols()));
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const float a = std::fabs(row[j]);
      absMax_[j] = std::max(absMax_[j], a);
      sumAbs_[j] += a;
    }
  }
  rows_ += rows;
  return Status::ok();
}

std::vector<float> ChannelStats::meanAbs() const {
  std::vector<float> m(absMax_.size(), 0.0f);
  if (rows_ == 0) return m;
  for (size_t j = 0; j < m.size(); ++j) m[j] = static_cast<float>(sumAbs_[j] / rows_);
  return m;
}

HessianAccumulator::HessianAccumulator(int64_t cols) : cols_(cols), h_(cols * cols, 0.0f) {}

Status HessianAccumulator::add(const float *x, int64_t rows, int64_t cols) {
  QCC_RETURN_IF_ERROR(checkShape("hessian", rows, cols, cols_));
  if (rows == 0) return Status::ok();
  const int64_t total = rows_ + rows;
  const float keep = static_cast<float>(static_cast<double>(rows_) / total);
  const float add = static_cast<float>(2.0 / total);
  // Upper triangle of X^T X for this batch, in fp32, tiled so that a 64 x 64
  // block of the result stays in cache while a chunk of rows streams by.
  constexpr int64_t kTile = 64, kRowChunk = 256;
  std::vector<float> xtx(cols * cols, 0.0f); // [K][K], upper triangle used
  for (int64_t r0 = 0; r0 < rows; r0 += kRowChunk) {
    const int64_t r1 = std::min(rows, r0 + kRowChunk);
    for (int64_t i0 = 0; i0 < cols; i0 += kTile) {
      const int64_t i1 = std::min(cols, i0 + kTile);
      for (int64_t j0 = i0; j0 < cols; j0 += kTile) {
        const int64_t j1 = std::min(cols, j0 + kTile);
        for (int64_t r = r0; r < r1; ++r) {
          const float *row = x + r * cols;
          for (int64_t i = i0; i < i1; ++i) {
            const float xi = row[i];
            float *dst = xtx.data() + i * cols;
            for (int64_t j = std::max(j0, i); j < j1; ++j) dst[j] += xi * row[j];
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = i; j < cols; ++j) {
      const float v = h_[i * cols + j] * keep + add * xtx[i * cols + j];
      h_[i * cols + j] = v;
      h_[j * cols + i] = v;
    }
  rows_ = total;
  return Status::ok();
}

Status RowSample::add(const float *x, int64_t rows, int64_t cols) {
  QCC_RETURN_IF_ERROR(checkShape("activation sample", rows, cols, cols_));
  const int64_t take = std::min(rows, maxRows_ - this->rows());
  if (take > 0) data_.insert(data_.end(), x, x + take * cols);
  return Status::ok();
}

void CalibrationCollector::observe(const std::string &name, const float *x, int64_t rows,
                                   int64_t cols) {
  if (!status_.isOk()) return;
  std::unique_ptr<LinearStats> &slot = stats_[name];
  if (!slot) {
    slot = std::make_unique<LinearStats>(cols);
    if (opts_.hessian) slot->hessian = std::make_unique<HessianAccumulator>(cols);
    if (opts_.keepRows > 0) slot->sample = std::make_unique<RowSample>(cols, opts_.keepRows);
  }
  Status s = slot->channels.add(x, rows, cols);
  if (s && slot->hessian) s = slot->hessian->add(x, rows, cols);
  if (s && slot->sample) s = slot->sample->add(x, rows, cols);
  if (!s) status_ = s.withContext(name);
}

const LinearStats *CalibrationCollector::find(const std::string &name) const {
  auto it = stats_.find(name);
  return it == stats_.end() ? nullptr : it->second.get();
}

} // namespace qcc::quant
