// tokenizer.json regular expressions on PCRE2: the translation from
// Oniguruma's syntax, checked against what `tokenizers` (Oniguruma) matches
// for every assigned code point (regex-classes.golden.json, from
// scripts/python/make_tokenizer_goldens.py), and the constructs refused.
#include "frontends/llama/Regex.h"
#include "frontends/llama/StrictJson.h"
#include "frontends/llama/Utf8.h"

#include "FrontendTestUtil.h"

#include <set>

using namespace qcc;
using namespace qcc::testing;

TEST(Regex, CharacterClassesMatchOniguruma) {
  const std::string path = std::string(QCC_SOURCE_DIR) + "/test/unit/frontend/Inputs/regex-classes.golden.json";
  auto golden = json::parse(readFile(path), path);
  ASSERT_TRUE(golden.isOk()) << golden.message();
  // Every assigned code point once, in order, and where each starts.
  std::string text;
  std::vector<uint32_t> pointAt; // byte offset -> code point (only at starts)
  std::set<uint32_t> assigned;
  for (const json::Value &r : golden->get("assigned")->elements()) {
    for (int64_t c = r.elements()[0].asInt64(); c <= r.elements()[1].asInt64(); ++c) {
      pointAt.resize(text.size() + 1);
      pointAt[text.size()] = uint32_t(c);
      utf8::append(text, uint32_t(c));
      assigned.insert(uint32_t(c));
    }
  }
  pointAt.resize(text.size() + 1);
  ASSERT_GT(assigned.size(), 280000u);
  size_t patterns = 0;
  for (const json::Value &p : golden->get("patterns")->elements()) {
    const std::string pattern = p.get("pattern")->asString();
    std::set<uint32_t> want;
    for (const json::Value &r : p.get("ranges")->elements())
      for (auto it = assigned.lower_bound(uint32_t(r.elements()[0].asInt64()));
           it != assigned.end() && *it <= uint32_t(r.elements()[1].asInt64()); ++it)
        want.insert(*it);
    auto regex = Regex::compile(pattern, "test");
    ASSERT_TRUE(regex.isOk()) << regex.message();
    std::vector<Regex::Span> spans;
    ASSERT_TRUE(regex->findAll(text, spans).isOk());
    std::set<uint32_t> got;
    for (const Regex::Span &s : spans)
      for (size_t i = s.begin; i < s.end;) {
        uint32_t cp;
        got.insert(pointAt[i]);
        i += utf8::decode(text, i, &cp);
      }
    std::vector<uint32_t> onlyGot, onlyWant;
    for (uint32_t c : got)
      if (!want.count(c)) onlyGot.push_back(c);
    for (uint32_t c : want)
      if (!got.count(c)) onlyWant.push_back(c);
    EXPECT_TRUE(onlyGot.empty() && onlyWant.empty())
        << pattern << " (PCRE2: " << regex->translated() << "): " << onlyGot.size() << " extra, e.g. U+"
        << std::hex << (onlyGot.empty() ? 0 : onlyGot[0]) << "; " << std::dec << onlyWant.size()
        << " missing, e.g. U+" << std::hex << (onlyWant.empty() ? 0 : onlyWant[0]);
    ++patterns;
  }
  EXPECT_EQ(patterns, 24u);
}

TEST(Regex, TranslatesOnigurumaSyntax) {
  auto t = [](const std::string &p) {
    auto r = translateOnigurumaPattern(p, "x");
    EXPECT_TRUE(r.isOk()) << p << ": " << r.message();
    return r.isOk() ? *r : std::string();
  };
  EXPECT_EQ(t("\\s+(?!\\S)"), "\\p{White_Space}+(?!\\P{White_Space})");
  EXPECT_EQ(t("[^\\s\\p{L}]"), "[^\\p{White_Space}\\p{L}]");
  EXPECT_EQ(t("\\v"), "\\x{0B}");
  EXPECT_EQ(t("[\\h]"), "[0-9A-Fa-f]");
  EXPECT_EQ(t("\\p{L}\\p{^N}\\P{Han}"), "\\p{L}\\p{^N}\\P{sc:Han}");
  EXPECT_EQ(t("a{,3}"), "a{0,3}");
  EXPECT_EQ(t("a{2,}"), "a{2,}");
  EXPECT_EQ(t("\\u00e9"), "\\x{00e9}");
  EXPECT_EQ(t("[]a]"), "[]a]");
  EXPECT_EQ(t("(?i:'s)|(?<n>x)\\1"), "(?i:'s)|(?<n>x)\\1");
  auto bad = [](const std::string &p, const std::string &construct) {
    expectError(translateOnigurumaPattern(p, "tok.json: pattern"),
                {"tok.json: pattern: the regular expression construct '" + construct + "' is not supported"});
  };
  bad("\\bword", "\\b");
  bad("\\R", "\\R");
  bad("[\\W]", "\\W inside brackets");
  bad("[a[b]]", "[ inside brackets");
  bad("[[:alpha:]]", "[:class:]");
  bad("(?m)a.b", "(?m)");
  bad("(?x) a", "(?x)");
  expectError(translateOnigurumaPattern("[abc", "p"), {"unterminated '['"});
  expectError(translateOnigurumaPattern("ab\\", "p"), {"lone backslash"});
}

TEST(Regex, IteratesLikeOniguruma) {
  // Empty matches split the text; an empty match right after a match is skipped.
  auto r = Regex::compile("x*", "t");
  ASSERT_TRUE(r.isOk());
  std::vector<Regex::Span> spans;
  ASSERT_TRUE(r->findAll("abxxc", spans).isOk());
  std::vector<std::pair<size_t, size_t>> got;
  for (auto s : spans) got.emplace_back(s.begin, s.end);
  EXPECT_EQ(got, (std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 1}, {2, 4}, {5, 5}}));
  // A long whitespace run under Llama 3's backtracking pattern stays within the JIT stack.
  auto ws = Regex::compile("\\s+(?!\\S)|\\s+", "t");
  ASSERT_TRUE(ws.isOk());
  spans.clear();
  std::string spaces(1 << 20, ' ');
  ASSERT_TRUE(ws->findAll(spaces + "x", spans).isOk());
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].end, (1u << 20) - 1);
  auto literal = Regex::literal("a.b(", "t");
  ASSERT_TRUE(literal.isOk());
  spans.clear();
  ASSERT_TRUE(literal->findAll("a.b(axb(", spans).isOk());
  EXPECT_EQ(spans.size(), 1u);
}
