// printable(), the nesting bound and the size limits of support/.
#include "support/Limits.h"
#include "support/Nesting.h"
#include "support/Printable.h"

#include <gtest/gtest.h>

namespace qcc {
namespace {

TEST(Printable, EscapesWhatATerminalWouldActOn) {
  EXPECT_EQ(printable("plain text"), "plain text");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x86\x92 ok"), "caf\xc3\xa9 \xe2\x86\x92 ok"); // UTF-8 stays
  EXPECT_EQ(printable(std::string("a\x1b[2Jb", 6)), "a\\x1b[2Jb");                    // escape sequence
  EXPECT_EQ(printable(std::string("nul\0here", 8)), "nul\\x00here");
  EXPECT_EQ(printable("bell\a cr\r del\x7f"), "bell\\x07 cr\\x0d del\\x7f");
  EXPECT_EQ(printable("x\xffy\xc3"), "x\\xffy\\xc3");                               // not UTF-8
  EXPECT_EQ(printable("c1 \xc2\x9b csi"), "c1 \\x9b csi");                          // U+009B
  EXPECT_EQ(printable("rtl \xe2\x80\xae override"), "rtl \\u202e override");        // bidi override
  EXPECT_EQ(printable("two\nlines\tand tab"), "two\nlines\tand tab");
}

TEST(Nesting, BoundIsCheckedOutsideStringsAndComments) {
  EXPECT_TRUE(checkNestingDepth("{[()]}", 3, "x").isOk());
  Status s = checkNestingDepth("a\n {[(( ))]}", 3, "in.mlir");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "in.mlir:2:5: nesting deeper than 3 levels");
  EXPECT_TRUE(checkNestingDepth("\"(((((\" // ((((((\n()", 1, "x").isOk());
  NestingSyntax mlir;
  mlir.angleBrackets = true;
  EXPECT_TRUE(checkNestingDepth("(i32) -> tensor<4xf32>", 1, "x", mlir).isOk()); // "->" closes nothing
  EXPECT_FALSE(checkNestingDepth("tensor<tensor<i32>>", 1, "x", mlir).isOk());
  NestingSyntax yaml;
  yaml.hashComments = true;
  yaml.singleQuotes = true;
  EXPECT_TRUE(checkNestingDepth("'[[[': a # [[[[", 1, "x", yaml).isOk());
  EXPECT_FALSE(checkNestingDepth(std::string(10000, '['), 64, "x", yaml).isOk());
}

TEST(Limits, EstimatesSaturateAndHugeOnesFail) {
  EXPECT_EQ(limits::saturatingProduct({1u << 20, 1u << 20, 1u << 20, 1u << 20}), UINT64_MAX);
  EXPECT_EQ(limits::saturatingProduct({3, 4}), 12u);
  EXPECT_EQ(limits::saturatingSum({UINT64_MAX - 1, 5}), UINT64_MAX);
  EXPECT_EQ(limits::bytesText(512), "512 B");
  EXPECT_EQ(limits::bytesText(3u << 20), "3.00 MiB");
  if (!limits::availableMemoryBytes()) GTEST_SKIP() << "available memory unknown here";
  EXPECT_TRUE(limits::checkFitsInMemory(4096, "a page").isOk());
  Status s = limits::checkFitsInMemory(UINT64_MAX, "the windows");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message().rfind("the windows need about 16.0 EiB of memory, ", 0), 0u) << s.message();
}

} // namespace
} // namespace qcc
