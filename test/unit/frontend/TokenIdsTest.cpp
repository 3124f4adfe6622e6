// Token-id files.
#include "frontends/llama/TokenIds.h"

#include "FrontendTestUtil.h"

using namespace qcc;
using namespace qcc::testing;

TEST(TokenIds, ParsesLinesAndWhitespace) {
  auto r = parseTokenIdLines("1 2\t3\r\n\n  \n40 0\n7", "x.ids");
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(*r, (std::vector<std::vector<int64_t>>{{1, 2, 3}, {40, 0}, {7}}));
  auto flat = parseTokenIds("1 2\t3\r\n\n  \n40 0\n7", "x.ids");
  ASSERT_TRUE(flat.isOk());
  EXPECT_EQ(*flat, (std::vector<int64_t>{1, 2, 3, 40, 0, 7}));
  EXPECT_TRUE(parseTokenIds("", "x.ids")->empty());
  EXPECT_TRUE(parseTokenIds(" \n\n", "x.ids")->empty());
  EXPECT_EQ(*parseTokenIds("999999999999999999", "x.ids"),
            (std::vector<int64_t>{999999999999999999}));
}

TEST(TokenIds, VocabCheck) {
  EXPECT_TRUE(parseTokenIds("0 511", "x.ids", 512).isOk());
  expectError(parseTokenIds("0 1\n2 512", "x.ids", 512),
              {"x.ids:2: token id 512 is outside the vocabulary [0, 512)"});
}

TEST(TokenIds, BadTokens) {
  expectError(parseTokenIds("1 2\n3 12x 4", "eval.ids"),
              {"eval.ids:2: bad token '12x' (expected a non-negative integer"});
  expectError(parseTokenIds("-1", "eval.ids"), {"eval.ids:1: bad token '-1'"});
  expectError(parseTokenIds("1,2", "eval.ids"), {"eval.ids:1: bad token '1,2'"});
  expectError(parseTokenIds("+3", "eval.ids"), {"eval.ids:1: bad token '+3'"});
  expectError(parseTokenIds("\n\n\n1.5", "eval.ids"), {"eval.ids:4: bad token '1.5'"});
  expectError(parseTokenIds("99999999999999999999", "eval.ids"),
              {"eval.ids:1: bad token '99999999999999999999'"});
  expectError(parseTokenIds(std::string("1 \xFF\xFE"), "eval.ids"), {"eval.ids:1: bad token"});
}

TEST(TokenIds, Files) {
  TempDir dir;
  writeFile(dir.file("a.ids"), "1 2 3\n4 5\n");
  auto r = readTokenIdLines(dir.file("a.ids"));
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(r->size(), 2u);
  auto flat = readTokenIds(dir.file("a.ids"), 6);
  ASSERT_TRUE(flat.isOk());
  EXPECT_EQ(flat->size(), 5u);
  expectError(readTokenIds(dir.file("a.ids"), 5), {dir.file("a.ids") + ":2: token id 5 is outside"});
  expectError(readTokenIds(dir.file("none.ids")), {dir.file("none.ids"), "cannot open"});
}
