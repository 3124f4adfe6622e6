// libFuzzer target: the per-layer rules file (YAML or JSON) on arbitrary
// text. Every input must parse or fail with an error (no stack overflow in
// the YAML parser: nesting is bounded first); parsed rules are matched
// against Llama layer names.
#include "passes/FormatRules.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto rules = qcc::parseFormatRules(text, "rules.yaml", 128);
  if (!rules) {
    if (rules.message().empty()) std::abort();
    return 0;
  }
  static const char *layers[] = {"model.layers.0.self_attn.q_proj", "model.layers.31.mlp.down_proj", "lm_head", ""};
  for (const qcc::FormatRule &r : *rules) {
    if (!qcc::checkGroupSize(r.choice.format == "w4a16" ? r.choice.groupSize : 8)) std::abort();
    for (const char *l : layers) (void)r.matches(l);
  }
  return 0;
}
