#include "runtime/lib/Session.h"

#include "runtime/cpu/Interpreter.h"
#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/CudaExecutor.h"

#include <algorithm>

namespace qcc::rt {

Expected<std::unique_ptr<Session>> Session::create(const Artifact &artifact, const SessionOptions &options) {
  if (options.batch < 1 || options.batch > 4096)
    return Status::error("session batch " + std::to_string(options.batch) + " is out of range [1, 4096]");
  auto choice = chooseDevice(options.device, artifact.file());
  if (!choice) return choice.status().withContext(artifact.path());

  std::unique_ptr<Session> s(new Session());
  s->device_ = choice->device;
  s->reason_ = choice->reason;
  s->vocab_ = artifact.vocabSize();
  s->last_.resize(size_t(options.batch));
  if (s->device_ == Device::Cuda) {
    Status cuda = s->createCuda(artifact, options);
    if (cuda) return s;
    // Auto falls back to the CPU and says why; an explicit cuda request fails.
    if (options.device == Device::Cuda) return cuda.withContext(artifact.path());
    s->cudaSlots_.clear();
    s->cudaDevice_.reset();
    s->device_ = Device::Cpu;
    s->reason_ = "using cpu: the CUDA executor failed: " + cuda.message();
  }
  QCC_RETURN_IF_ERROR(s->createCpu(artifact, options));
  return s;
}

Status Session::createCpu(const Artifact &artifact, const SessionOptions &options) {
  cpu::ExecutorOptions eo;
  eo.numThreads = options.numThreads;
  eo.maxSeqLen = options.maxSeqLen;
  eo.actDtype = options.cpuPrecision;
  auto model = cpu::Interpreter::create(artifact.program(), artifact, eo);
  if (!model) return model.status().withContext(artifact.path());
  model_ = std::move(*model);
  for (int b = 0; b < options.batch; ++b) slots_.push_back(std::make_unique<cpu::Session>(*model_));
  return Status::ok();
}

Status Session::createCuda(const Artifact &artifact, const SessionOptions &options) {
  auto device = cuda::CudaDevice::open(0);
  if (!device) return device.status();
  cudaDevice_ = std::move(*device);
  cuda::CudaExecutorOptions eo;
  eo.maxSeqLen = options.maxSeqLen;
  for (int b = 0; b < options.batch; ++b) {
    auto executor = cuda::CudaExecutor::create(artifact.file(), *cudaDevice_, eo);
    if (!executor) return executor.status();
    cudaSlots_.push_back(std::move(*executor));
  }
  return Status::ok();
}

Session::~Session() = default;

int64_t Session::maxSeqLen() const {
  if (!cudaSlots_.empty()) return cudaSlots_.front()->maxSeqLen();
  return model_ ? model_->maxSeqLen() : 0;
}

Status Session::checkSlot(int slot) const {
  size_t slots = device_ == Device::Cuda ? cudaSlots_.size() : slots_.size();
  if (slots == 0) return Status::error("session is closed");
  if (slot < 0 || slot >= int(slots))
    return Status::error("slot " + std::to_string(slot) + " is out of range (batch " + std::to_string(slots) + ")");
  return Status::ok();
}

Expected<std::vector<float>> Session::prefill(const std::vector<int64_t> &tokens, int slot) {
  QCC_RETURN_IF_ERROR(checkSlot(slot));
  if (tokens.empty()) return Status::error("prefill with no tokens");
  auto out = device_ == Device::Cuda ? cudaSlots_[size_t(slot)]->prefill(tokens) : slots_[size_t(slot)]->prefill(tokens);
  if (!out) return out.status();
  last_[size_t(slot)].assign(out->end() - vocab_, out->end());
  return out;
}

Expected<std::vector<float>> Session::decode(int64_t token, int slot) {
  QCC_RETURN_IF_ERROR(checkSlot(slot));
  auto out = device_ == Device::Cuda ? cudaSlots_[size_t(slot)]->decode(token) : slots_[size_t(slot)]->decode(token);
  if (!out) return out.status();
  last_[size_t(slot)] = *out;
  return out;
}

const std::vector<float> &Session::logits(int slot) const {
  static const std::vector<float> none;
  if (!checkSlot(slot).isOk()) return none;
  return last_[size_t(slot)];
}

int64_t Session::position(int slot) const {
  if (!checkSlot(slot).isOk()) return 0;
  return device_ == Device::Cuda ? cudaSlots_[size_t(slot)]->position() : slots_[size_t(slot)]->position();
}

void Session::reset(int slot) {
  if (checkSlot(slot).isOk()) {
    if (device_ == Device::Cuda) cudaSlots_[size_t(slot)]->reset();
    else slots_[size_t(slot)]->reset();
    last_[size_t(slot)].clear();
  }
}

void Session::close() {
  slots_.clear();
  cudaSlots_.clear();
  cudaDevice_.reset();
  last_.clear();
  model_.reset();
}

} // namespace qcc::rt
