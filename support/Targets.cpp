#include "support/Targets.h"

#include <algorithm>
#include <cctype>

namespace qcc {

const std::vector<TargetInfo> &allTargets() {
  static const std::vector<TargetInfo> targets = {
      {"sm80", "sm_80", 80, "A100", false, false},
      {"sm86", "sm_86", 86, "A6000", false, false},
      {"sm89", "sm_89", 89, "L40S", true, false},
      {"sm90", "sm_90a", 90, "H100/H200", true, true},
  };
  return targets;
}

static std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

Expected<TargetInfo> lookupTarget(const std::string &nameOrAlias) {
  std::string n = lower(nameOrAlias);
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
  if (n == "a100") n = "sm80";
  else if (n == "a6000") n = "sm86";
  else if (n == "l40s") n = "sm89";
  else if (n == "h100" || n == "h200" || n == "sm90a") n = "sm90";
  for (const TargetInfo &t : allTargets())
    if (n == t.name) return t;
  return Status::error("unknown target '" + nameOrAlias +
                       "' (expected sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200)");
}

Expected<std::vector<TargetInfo>> parseTargetList(const std::string &list) {
  std::vector<TargetInfo> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) return Status::error("empty entry in target list '" + list + "'");
    Expected<TargetInfo> t = lookupTarget(item);
    if (!t) return t.status();
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const TargetInfo &o) { return std::string(o.name) == t->name; });
    if (!seen) out.push_back(*t);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Status checkFormatLegal(const std::string &format, const TargetInfo &target, bool allowFp8WeightOnly,
                        int64_t groupSize) {
  if (format == "w4a16" && groupSize % kW4A16KernelGroupMultiple != 0)
    return Status::error("w4a16 with group " + std::to_string(groupSize) + " has no CUDA kernel on " + target.name +
                         " (the group must be a multiple of 128): use w4a16:128 or int8, or compile with "
                         "--no-kernels for a CPU-only artifact");
  if (format == "bf16" || format == "int8" || format == "w4a16") return Status::ok();
  if (format == "fp8") {
    if (target.hasFp8TensorCores || allowFp8WeightOnly) return Status::ok();
    return Status::error(std::string("format fp8 (W8A8-FP) needs fp8 tensor cores (sm89 or newer); target ") +
                         target.name + " (" + target.examples +
                         ") has none: use --format w4a16 or --format int8, or pass --fp8-weight-only "
                         "for e4m3 weights with bf16 math");
  }
  return Status::error("unknown format '" + format + "' (expected bf16, fp8, int8 or w4a16)");
}

} // namespace qcc
