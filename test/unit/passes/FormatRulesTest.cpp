// The rules of qcc-select-formats (passes/FormatRules.h): one group-size rule
// for the flag, the ":G" suffix and the pass option; rules files bounded in
// size, count and nesting before the YAML parser sees them.
#include "passes/FormatRules.h"

#include <gtest/gtest.h>

#include <string>

namespace qcc {
namespace {

TEST(FormatRules, OneGroupSizeRule) {
  for (int64_t g : {8, 32, 128, 1 << 20}) EXPECT_TRUE(checkGroupSize(g).isOk()) << g;
  for (int64_t g : {0, -8, 7, 12, (1 << 20) + 8}) {
    Status s = checkGroupSize(g);
    ASSERT_FALSE(s.isOk()) << g;
    EXPECT_EQ(s.message(), "group size " + std::to_string(g) + " is not a positive multiple of 8 (at most 1048576)");
  }
  auto c = parseFormatChoice("w4a16", 64);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->groupSize, 64);
  EXPECT_EQ(parseFormatChoice("w4a16:7", 128).message(), "bad group size in 'w4a16:7' (a positive multiple of 8, at most 1048576)");
  EXPECT_EQ(parseFormatChoice("w4a16:", 128).message(), "empty group size in 'w4a16:'");
  EXPECT_EQ(parseFormatChoice("fp8:", 128).message(), "format 'fp8' takes no group size");
  EXPECT_EQ(parseFormatChoice("int4", 128).message(), "unknown format 'int4' (expected bf16, fp8, int8, w4a16 or w4a16:G)");
}

TEST(FormatRules, ParsesOrderedRulesWithTheirLines) {
  auto rules = parseFormatRules("# comment\n\"*.down_proj\": bf16\nlayers.0.*: w4a16:64\n're:.*q_proj': fp8\n",
                                "r.yaml", 128);
  ASSERT_TRUE(rules.isOk()) << rules.message();
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_EQ((*rules)[0].origin, "r.yaml:2");
  EXPECT_EQ((*rules)[1].choice.groupSize, 64);
  EXPECT_TRUE((*rules)[1].matches("model.layers.0.mlp.up_proj"));
  EXPECT_TRUE((*rules)[2].matches("model.layers.3.self_attn.q_proj"));
  EXPECT_FALSE((*rules)[2].matches("model.layers.3.self_attn.k_proj"));
  auto bad = parseFormatRules("a: bf16\nb: w4a16:12\n", "r.yaml", 128);
  EXPECT_EQ(bad.message(), "r.yaml:2: bad group size in 'w4a16:12' (a positive multiple of 8, at most 1048576)");
}

TEST(FormatRules, HostileFilesFailCleanly) {
  // Deep flow nesting: refused before the (recursive) YAML parser.
  auto deep = parseFormatRules("a: " + std::string(100000, '[') + "\n", "deep.yaml", 128);
  EXPECT_EQ(deep.message(), "deep.yaml:1:68: nesting deeper than 64 levels");
  // Too many rules.
  std::string many;
  for (int i = 0; i <= 4096; ++i) many += "r" + std::to_string(i) + ": bf16\n";
  EXPECT_EQ(parseFormatRules(many, "many.yaml", 128).message(), "many.yaml: more than 4096 rules");
  // Over the size limit.
  EXPECT_NE(parseFormatRules(std::string((1 << 20) + 1, ' '), "big.yaml", 128).message().find("over the limit"),
            std::string::npos);
  EXPECT_EQ(parseFormatRules("", "e.yaml", 128).message(), "e.yaml: empty rules file");
  EXPECT_EQ(parseFormatRules("- a\n- b\n", "l.yaml", 128).message(), "l.yaml: expected a mapping of `pattern: format` rules");
  EXPECT_FALSE(parseFormatRules("a: [bf16]\n", "v.yaml", 128).isOk());
  EXPECT_FALSE(parseFormatRules("\"re:(\": bf16\n", "re.yaml", 128).isOk());
  EXPECT_FALSE(readFormatRules("/dev/zero", 128).isOk()); // not a regular file
}

} // namespace
} // namespace qcc
