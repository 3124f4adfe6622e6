// A generation session over an artifact: `batch` independent sequences
// (slots), each with its own KV cache of maxSeqLen positions.
#pragma once

#include "runtime/lib/Artifact.h"
#include "runtime/lib/Device.h"

#include "runtime/cpu/Linear.h"

#include <memory>
#include <optional>
#include <vector>

namespace qcc::cpu {
class Interpreter;
class Session;
} // namespace qcc::cpu
namespace qcc::cuda {
class CudaDevice;
class CudaExecutor;
} // namespace qcc::cuda

namespace qcc::rt {

struct SessionOptions {
  Device device = Device::Auto;
  int64_t maxSeqLen = 0; // <= 0: max_position_embeddings capped at 8192
  int batch = 1;         // sequences (slots)
  int numThreads = 0;    // CPU threads; <= 0: all
  // CPU: activation precision other than the artifact's own (unset: its own).
  std::optional<cpu::ActDType> cpuPrecision;
};

class Session {
public:
  // The artifact must outlive the session (weights stay in its mapping until
  // the executor has converted them).
  static Expected<std::unique_ptr<Session>> create(const Artifact &artifact, const SessionOptions &options);
  ~Session();

  Device device() const { return device_; }
  const std::string &deviceReason() const { return reason_; }
  int batch() const { return int(slots_.size()); }
  int64_t maxSeqLen() const;
  int64_t vocabSize() const { return vocab_; }
  // The CPU interpreter (device Cpu only; null otherwise): its threads and precision.
  const cpu::Interpreter *cpuInterpreter() const { return model_.get(); }

  // Appends `tokens` to slot `slot`; logits of every appended position [T, V].
  Expected<std::vector<float>> prefill(const std::vector<int64_t> &tokens, int slot = 0);
  // Appends one token; its logits [V].
  Expected<std::vector<float>> decode(int64_t token, int slot = 0);
  // Logits [V] of the last position processed in `slot` (empty before any).
  const std::vector<float> &logits(int slot = 0) const;
  int64_t position(int slot = 0) const;
  void reset(int slot = 0);
  // Frees the executor and the caches; every later call fails.
  void close();

private:
  Session() = default;
  Status checkSlot(int slot) const;

  Device device_ = Device::Cpu;
  std::string reason_;
  int64_t vocab_ = 0;
  Status createCpu(const Artifact &artifact, const SessionOptions &options);
  Status createCuda(const Artifact &artifact, const SessionOptions &options);

  std::unique_ptr<cpu::Interpreter> model_;
  std::vector<std::unique_ptr<cpu::Session>> slots_;         // device Cpu
  std::unique_ptr<cuda::CudaDevice> cudaDevice_;
  std::vector<std::unique_ptr<cuda::CudaExecutor>> cudaSlots_; // device Cuda
  std::vector<std::vector<float>> last_; // [batch][V]
};

} // namespace qcc::rt
