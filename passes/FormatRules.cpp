#include "passes/FormatRules.h"

#include "support/MappedFile.h"
#include "support/Nesting.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace qcc {

Status checkGroupSize(int64_t group) {
  if (group > 0 && group % 8 == 0 && group <= kMaxGroupSize) return Status::ok();
  return Status::error("group size " + std::to_string(group) + " is not a positive multiple of 8 (at most " +
                       std::to_string(kMaxGroupSize) + ")");
}

Expected<FormatChoice> parseFormatChoice(llvm::StringRef text, int64_t defaultGroup) {
  auto [name, groupText] = text.trim().split(':');
  FormatChoice c;
  c.format = name.str();
  if (name != "bf16" && name != "fp8" && name != "int8" && name != "w4a16")
    return Status::error("unknown format '" + text.str() + "' (expected bf16, fp8, int8, w4a16 or w4a16:G)");
  if (name == "w4a16") {
    c.groupSize = defaultGroup;
    if (text.contains(':') && groupText.empty()) return Status::error("empty group size in '" + text.str() + "'");
    if (!groupText.empty()) {
      long long g = 0;
      if (groupText.getAsInteger(10, g) || !checkGroupSize(g))
        return Status::error("bad group size in '" + text.str() + "' (a positive multiple of 8, at most " +
                             std::to_string(kMaxGroupSize) + ")");
      c.groupSize = g;
    }
  } else if (!groupText.empty() || text.contains(':')) {
    return Status::error("format '" + name.str() + "' takes no group size");
  }
  return c;
}

bool FormatRule::matches(llvm::StringRef layer) const {
  llvm::StringRef shortName = layer;
  shortName.consume_front("model.");
  if (regex) return regex->match(layer) || regex->match(shortName);
  return glob->match(layer) || glob->match(shortName);
}

Expected<FormatRule> makeFormatRule(llvm::StringRef pattern, llvm::StringRef format, int64_t defaultGroup,
                                    std::string origin) {
  FormatRule rule;
  rule.pattern = pattern.str();
  rule.origin = std::move(origin);
  if (pattern.empty()) return Status::error("empty pattern");
  if (pattern.consume_front("re:")) {
    rule.regex.emplace(("^(" + pattern + ")$").str());
    std::string regexError;
    if (!rule.regex->isValid(regexError))
      return Status::error("bad regular expression '" + pattern.str() + "': " + regexError);
  } else {
    rule.globText = std::make_shared<const std::string>(pattern.str());
    auto glob = llvm::GlobPattern::create(*rule.globText);
    if (!glob) return Status::error("bad glob '" + pattern.str() + "': " + llvm::toString(glob.takeError()));
    rule.glob.emplace(std::move(*glob));
  }
  auto choice = parseFormatChoice(format, defaultGroup);
  if (!choice) return choice.status();
  rule.choice = std::move(*choice);
  return rule;
}

Expected<std::vector<FormatRule>> parseFormatRules(llvm::StringRef text, const std::string &name,
                                                   int64_t defaultGroup) {
  if (text.size() > kMaxRulesFileBytes)
    return Status::error(name + ": rules file of " + std::to_string(text.size()) + " bytes is over the limit of " +
                         std::to_string(kMaxRulesFileBytes) + " bytes");
  NestingSyntax yaml;
  yaml.hashComments = true;
  yaml.singleQuotes = true;
  QCC_RETURN_IF_ERROR(checkNestingDepth(std::string_view(text.data(), text.size()), kMaxRulesNesting, name, yaml));

  llvm::SourceMgr sm;
  std::string diagnostics;
  llvm::raw_string_ostream diagStream(diagnostics);
  sm.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *ctx) {
        auto &os = *static_cast<llvm::raw_string_ostream *>(ctx);
        if (os.str().empty()) os << "line " << d.getLineNo() << ": " << d.getMessage();
      },
      &diagStream);
  llvm::yaml::Stream stream(text, sm);
  std::vector<FormatRule> rules;
  auto fail = [&](const std::string &what) {
    return Status::error(name + ": " + what + (diagnostics.empty() ? "" : ": " + diagnostics));
  };
  auto docIt = stream.begin();
  if (docIt == stream.end() || !docIt->getRoot() || llvm::isa<llvm::yaml::NullNode>(docIt->getRoot()))
    return fail("empty rules file");
  auto *map = llvm::dyn_cast<llvm::yaml::MappingNode>(docIt->getRoot());
  if (!map) return fail("expected a mapping of `pattern: format` rules");
  for (llvm::yaml::KeyValueNode &kv : *map) {
    auto *key = llvm::dyn_cast_or_null<llvm::yaml::ScalarNode>(kv.getKey());
    auto *value = llvm::dyn_cast_or_null<llvm::yaml::ScalarNode>(kv.getValue());
    if (!key || !value) return fail("every rule must be `pattern: format` with scalar strings");
    if (rules.size() == kMaxRules) return fail("more than " + std::to_string(kMaxRules) + " rules");
    llvm::SmallString<64> keyStorage, valueStorage;
    const char *at = key->getSourceRange().Start.getPointer();
    const size_t line = at && at >= text.begin() && at <= text.end()
                            ? 1 + size_t(std::count(text.begin(), at, '\n'))
                            : 0;
    auto rule = makeFormatRule(key->getValue(keyStorage), value->getValue(valueStorage), defaultGroup,
                               name + ":" + std::to_string(line));
    if (!rule) return Status::error(name + ":" + std::to_string(line) + ": " + rule.message());
    rules.push_back(std::move(*rule));
  }
  if (!diagnostics.empty()) return Status::error(name + ": " + diagnostics);
  return rules;
}

Expected<std::vector<FormatRule>> readFormatRules(const std::string &path, int64_t defaultGroup) {
  auto file = MappedFile::open(path, kMaxRulesFileBytes, "rules file");
  if (!file) return file.status();
  llvm::StringRef text(reinterpret_cast<const char *>((*file)->data()), (*file)->size());
  return parseFormatRules(text, path, defaultGroup);
}

} // namespace qcc
