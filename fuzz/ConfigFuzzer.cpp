// libFuzzer target: config.json parsing on arbitrary text. Every input must
// parse or fail with an error; a parsed config must satisfy every range of
// checkModelConfig (what the expected-tensor list and the executors rely on).
#include "frontends/llama/LlamaConfig.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  auto config = qcc::parseLlamaConfig(text, "config.json");
  if (!config) {
    if (config.message().empty()) std::abort();
    return 0;
  }
  if (!qcc::checkModelConfig(*config)) std::abort();
  // What the checkpoint builds from the sizes next must stay small.
  const qcc::ModelConfig &c = *config;
  if (c.numLayers > 4096 || c.numHeads * c.headDim > (int64_t(1) << 31)) std::abort();
  return 0;
}
