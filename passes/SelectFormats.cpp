// qcc-select-formats: the per-layer format map.
#include "passes/AutoFormats.h"
#include "passes/FormatRules.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <memory>
#include <set>

#define DEBUG_TYPE "qcc-select-formats"

namespace qcc {
#define GEN_PASS_DEF_QCCSELECTFORMATS
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

FormatAttr toAttr(MLIRContext *ctx, const FormatChoice &c) {
  return FormatAttr::get(ctx, *symbolizeFormatKind(c.format), c.format == "w4a16" ? c.groupSize : 0);
}

struct SelectFormatsPass : impl::QccSelectFormatsBase<SelectFormatsPass> {
  using QccSelectFormatsBase::QccSelectFormatsBase;

  LogicalResult runAutoSelection() {
    AutoFormatOptions options;
    if (!targets.empty()) {
      auto list = parseTargetList(targets);
      if (!list) return mlir::emitError(getOperation().getLoc(), "qcc-select-formats: ") << list.message();
      options.targets = *list;
    }
    options.allowFp8WeightOnly = allowFp8WeightOnly;
    options.includeLmHead = includeLmHead;
    options.groupSize = groupSize;
    options.tilesFile = tilesFile;
    options.uniformGroups = uniformGroups;
    return selectFormatsAutomatically(getOperation(), budget, sensitivity, options);
  }

  void runOnOperation() override {
    recordPass(getOperation(), *this);
    if (defaultFormat == "auto") {
      if (!rules.empty() || !rulesFile.empty()) {
        mlir::emitError(getOperation().getLoc(), "qcc-select-formats: rules and default-format=auto exclude each other");
        return signalPassFailure();
      }
      if (failed(runAutoSelection())) signalPassFailure();
      return;
    }
    auto fail = [&](const std::string &message) {
      mlir::emitError(getOperation().getLoc(), "qcc-select-formats: ") << message;
      signalPassFailure();
    };
    // One rule for the group size, whether or not any layer ends up w4a16.
    if (Status s = checkGroupSize(groupSize); !s) return fail("group-size: " + s.message());
    auto defaultChoice = parseFormatChoice(defaultFormat, groupSize);
    if (!defaultChoice) return fail(defaultChoice.message());
    std::vector<FormatRule> ruleList;
    for (const std::string &r : rules) {
      auto [pattern, format] = StringRef(r).rsplit('=');
      if (format.empty() || !StringRef(r).contains('=')) return fail("bad rule '" + r + "': expected pattern=format");
      auto rule = makeFormatRule(pattern, format, groupSize, "rules option");
      if (!rule) return fail("bad rule '" + r + "': " + rule.message());
      ruleList.push_back(std::move(*rule));
    }
    if (!rulesFile.empty()) {
      auto fileRules = readFormatRules(rulesFile, groupSize);
      if (!fileRules) return fail(fileRules.message());
      for (FormatRule &r : *fileRules) ruleList.push_back(std::move(r));
    }

    MLIRContext *ctx = &getContext();
    bool failedAny = false;
    // Per rule: how many layers it matches, and which rules win those layers.
    std::vector<int> matched(ruleList.size(), 0), won(ruleList.size(), 0);
    std::vector<std::set<size_t>> takenBy(ruleList.size());
    auto choose = [&](Operation *op, StringRef layer, int64_t k, bool isHead) -> FormatAttr {
      const FormatRule *match = nullptr;
      size_t winner = 0;
      for (size_t i = 0; i < ruleList.size(); ++i) {
        if (!ruleList[i].matches(layer)) continue;
        ++matched[i];
        if (!match) {
          match = &ruleList[i];
          winner = i;
          ++won[i];
        } else {
          takenBy[i].insert(winner);
        }
      }
      FormatChoice choice = *defaultChoice;
      if (match) {
        choice = match->choice;
      } else if (isHead && !includeLmHead) {
        choice = FormatChoice{"bf16", 0};
      }
      if (choice.format == "w4a16" && !ShapedType::isDynamic(k) && k % choice.groupSize != 0) {
        if (match) {
          op->emitError() << "rule '" << match->pattern << "' asks for w4a16 with group " << choice.groupSize
                          << " but layer " << layer << " has " << k << " input channels";
          failedAny = true;
          return {};
        }
        op->emitRemark() << "layer " << layer << ": group " << choice.groupSize << " does not divide its " << k
                         << " input channels; using int8 per channel instead of w4a16";
        choice = FormatChoice{"int8", 0};
      }
      return toAttr(ctx, choice);
    };

    // A weight stored quantized (a pre-quantized checkpoint) keeps its format:
    // the default does not apply to it, and a rule asking for another format
    // is an error.
    int64_t kept = 0;
    auto keepStored = [&](Operation *op, StringRef layer, Value weight, FormatAttr current) {
      Type elem = cast<RankedTensorType>(weight.getType()).getElementType();
      if (isa<FloatType>(elem) && !isa<Float8E4M3FNType>(elem)) return false;
      ++kept;
      for (size_t i = 0; i < ruleList.size(); ++i)
        if (const FormatRule &r = ruleList[i]; r.matches(layer)) {
          ++matched[i];
          ++won[i];
          if (FormatAttr wanted = toAttr(ctx, r.choice); wanted != current) {
            op->emitError() << "rule '" << r.pattern << "' asks for " << wanted
                            << " but layer " << layer << " is stored quantized as " << current
                            << " in the checkpoint (its codes are kept as they are)";
            failedAny = true;
          }
          break;
        }
      return true;
    };
    getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op)) {
        if (keepStored(op, linear.getLayer(), linear.getWeight(), linear.getFormat())) return;
        int64_t k = cast<RankedTensorType>(linear.getWeight().getType()).getDimSize(1);
        if (FormatAttr f = choose(op, linear.getLayer(), k, /*isHead=*/false))
          linear.setFormatAttr(f);
      } else if (auto logits = dyn_cast<LogitsOp>(op)) {
        if (keepStored(op, "lm_head", logits.getWeight(), logits.getFormat())) return;
        int64_t k = cast<RankedTensorType>(logits.getWeight().getType()).getDimSize(1);
        if (FormatAttr f = choose(op, "lm_head", k, /*isHead=*/true))
          logits.setFormatAttr(f);
      }
    });
    if (kept)
      getOperation().emitRemark() << kept << " linear layers are stored quantized in the checkpoint: their formats "
                                  << "and codes are kept";
    if (failedAny) return signalPassFailure();

    // Rules that decide nothing are almost always a mistake: say which.
    std::map<std::string, size_t> firstWithPattern;
    for (size_t i = 0; i < ruleList.size(); ++i) {
      const FormatRule &r = ruleList[i];
      auto where = [&](const FormatRule &x) { return "'" + x.pattern + "' (" + x.origin + ")"; };
      auto [it, fresh] = firstWithPattern.try_emplace(r.pattern, i);
      if (!fresh) {
        getOperation().emitWarning() << "qcc-select-formats: rule " << where(r) << " repeats the pattern of rule "
                                     << where(ruleList[it->second]) << "; only the first applies";
      } else if (matched[i] == 0) {
        getOperation().emitWarning() << "qcc-select-formats: rule " << where(r) << " matches no layer";
      } else if (won[i] == 0) {
        std::string earlier;
        for (size_t j : takenBy[i]) earlier += (earlier.empty() ? "" : ", ") + where(ruleList[j]);
        getOperation().emitWarning() << "qcc-select-formats: rule " << where(r) << " never applies: every layer it "
                                     << "matches is taken by the earlier rule" << (takenBy[i].size() > 1 ? "s " : " ")
                                     << earlier;
      }
    }
  }
};

} // namespace
} // namespace qcc
