// qcc-select-formats: the per-layer format map.
#include "passes/AutoFormats.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"

#include <memory>

#define DEBUG_TYPE "qcc-select-formats"

namespace qcc {
#define GEN_PASS_DEF_QCCSELECTFORMATS
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

struct FormatRule {
  std::string pattern;
  // llvm::GlobPattern keeps a StringRef to the text it was made from: the
  // text lives here, at an address that moving the rule does not change.
  std::unique_ptr<std::string> globText;
  std::optional<llvm::GlobPattern> glob;
  std::optional<llvm::Regex> regex;
  FormatKind kind;
  int64_t groupSize;

  bool matches(StringRef layer) const {
    StringRef shortName = layer;
    shortName.consume_front("model.");
    if (regex) return regex->match(layer) || regex->match(shortName);
    return glob->match(layer) || glob->match(shortName);
  }
};

// "w4a16", "w4a16:64", "fp8", ...
static FailureOr<std::pair<FormatKind, int64_t>> parseFormat(StringRef text, int64_t defaultGroup,
                                                             std::string &error) {
  auto [name, groupText] = text.trim().split(':');
  std::optional<FormatKind> kind = symbolizeFormatKind(name);
  if (!kind) {
    error = ("unknown format '" + text + "' (expected bf16, fp8, int8, w4a16 or w4a16:G)").str();
    return failure();
  }
  int64_t group = 0;
  if (*kind == FormatKind::w4a16) {
    group = defaultGroup;
    if (!groupText.empty() && (groupText.getAsInteger(10, group) || group <= 0 || group % 8 != 0)) {
      error = ("bad group size in '" + text + "' (a positive multiple of 8)").str();
      return failure();
    }
  } else if (!groupText.empty()) {
    error = ("format '" + name + "' takes no group size").str();
    return failure();
  }
  return std::make_pair(*kind, group);
}

static FailureOr<FormatRule> makeRule(StringRef pattern, StringRef format, int64_t defaultGroup,
                                      std::string &error) {
  FormatRule rule;
  rule.pattern = pattern.str();
  if (pattern.consume_front("re:")) {
    rule.regex.emplace(("^(" + pattern + ")$").str());
    std::string regexError;
    if (!rule.regex->isValid(regexError)) {
      error = "bad regular expression '" + pattern.str() + "': " + regexError;
      return failure();
    }
  } else {
    rule.globText = std::make_unique<std::string>(pattern.str());
    auto glob = llvm::GlobPattern::create(*rule.globText);
    if (!glob) {
      error = "bad glob '" + pattern.str() + "': " + llvm::toString(glob.takeError());
      return failure();
    }
    rule.glob.emplace(std::move(*glob));
  }
  auto parsed = parseFormat(format, defaultGroup, error);
  if (failed(parsed)) return failure();
  rule.kind = parsed->first;
  rule.groupSize = parsed->second;
  return rule;
}

// Reads an ordered YAML/JSON mapping `pattern: format` (YAML's parser keeps
// the order, and JSON objects are YAML flow mappings).
static LogicalResult readRulesFile(StringRef path, int64_t defaultGroup, std::vector<FormatRule> &rules,
                                   std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = (path + ": cannot read: " + buffer.getError().message()).str();
    return failure();
  }
  llvm::SourceMgr sm;
  std::string diagnostics;
  llvm::raw_string_ostream diagStream(diagnostics);
  sm.setDiagHandler([](const llvm::SMDiagnostic &d, void *ctx) {
    *static_cast<llvm::raw_string_ostream *>(ctx) << d.getMessage();
  }, &diagStream);
  llvm::yaml::Stream stream((*buffer)->getBuffer(), sm);
  auto docIt = stream.begin();
  if (docIt == stream.end() || !docIt->getRoot()) {
    error = (path + ": empty rules file").str();
    return failure();
  }
  auto *map = dyn_cast<llvm::yaml::MappingNode>(docIt->getRoot());
  if (!map) {
    error = (path + ": expected a mapping of `pattern: format` rules" +
             (diagnostics.empty() ? "" : ": " + diagnostics)).str();
    return failure();
  }
  for (llvm::yaml::KeyValueNode &kv : *map) {
    auto *key = dyn_cast_or_null<llvm::yaml::ScalarNode>(kv.getKey());
    auto *value = dyn_cast_or_null<llvm::yaml::ScalarNode>(kv.getValue());
    if (!key || !value) {
      error = (path + ": every rule must be `pattern: format` with scalar strings" +
               (diagnostics.empty() ? "" : ": " + diagnostics)).str();
      return failure();
    }
    SmallString<64> keyStorage, valueStorage;
    std::string ruleError;
    auto rule = makeRule(key->getValue(keyStorage), value->getValue(valueStorage), defaultGroup, ruleError);
    if (failed(rule)) {
      error = (path + ": " + ruleError).str();
      return failure();
    }
    rules.push_back(std::move(*rule));
  }
  if (!diagnostics.empty()) {
    error = (path + ": " + diagnostics).str();
    return failure();
  }
  return success();
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
    std::string error;
    auto defaultParsed = parseFormat(defaultFormat, groupSize, error);
    if (failed(defaultParsed)) {
      mlir::emitError(getOperation().getLoc(), "qcc-select-formats: ") << error;
      return signalPassFailure();
    }
    std::vector<FormatRule> ruleList;
    for (const std::string &r : rules) {
      auto [pattern, format] = StringRef(r).rsplit('=');
      auto rule = makeRule(pattern, format, groupSize, error);
      if (failed(rule) || format.empty()) {
        mlir::emitError(getOperation().getLoc(), "qcc-select-formats: bad rule '") << r << "': " << error;
        return signalPassFailure();
      }
      ruleList.push_back(std::move(*rule));
    }
    if (!rulesFile.empty() && failed(readRulesFile(rulesFile, groupSize, ruleList, error))) {
      mlir::emitError(getOperation().getLoc(), "qcc-select-formats: ") << error;
      return signalPassFailure();
    }

    MLIRContext *ctx = &getContext();
    bool failedAny = false;
    auto choose = [&](Operation *op, StringRef layer, int64_t k, bool isHead) -> FormatAttr {
      const FormatRule *match = nullptr;
      for (const FormatRule &r : ruleList)
        if (r.matches(layer)) { match = &r; break; }
      FormatKind kind = defaultParsed->first;
      int64_t group = defaultParsed->second;
      if (match) {
        kind = match->kind;
        group = match->groupSize;
      } else if (isHead && !includeLmHead) {
        kind = FormatKind::bf16;
        group = 0;
      }
      if (kind == FormatKind::w4a16 && !ShapedType::isDynamic(k) && k % group != 0) {
        if (match) {
          op->emitError() << "rule '" << match->pattern << "' asks for w4a16 with group " << group
                          << " but layer " << layer << " has " << k << " input channels";
          failedAny = true;
          return {};
        }
        op->emitRemark() << "layer " << layer << ": group " << group << " does not divide its " << k
                         << " input channels; using int8 per channel instead of w4a16";
        kind = FormatKind::int8;
        group = 0;
      }
      return FormatAttr::get(ctx, kind, group);
    };

    // A weight stored quantized (a pre-quantized checkpoint) keeps its format:
    // the default does not apply to it, and a rule asking for another format
    // is an error.
    int64_t kept = 0;
    auto keepStored = [&](Operation *op, StringRef layer, Value weight, FormatAttr current) {
      Type elem = cast<RankedTensorType>(weight.getType()).getElementType();
      if (isa<FloatType>(elem) && !isa<Float8E4M3FNType>(elem)) return false;
      ++kept;
      for (const FormatRule &r : ruleList)
        if (r.matches(layer)) {
          if (r.kind != current.getKind() || (r.kind == FormatKind::w4a16 && r.groupSize != current.getGroupSize())) {
            op->emitError() << "rule '" << r.pattern << "' asks for " << FormatAttr::get(ctx, r.kind, r.groupSize)
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
    if (failedAny) signalPassFailure();
  }
};

} // namespace
} // namespace qcc
