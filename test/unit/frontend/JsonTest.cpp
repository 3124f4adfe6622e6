// The strict JSON reader.
#include "frontends/llama/StrictJson.h"

#include "FrontendTestUtil.h"

using namespace qcc;
using namespace qcc::testing;

namespace {
Expected<json::Value> parse(const std::string &s) { return json::parse(s, "t.json"); }
}

TEST(StrictJson, Values) {
  auto r = parse(R"( {"a": [1, -2, 3.5, 1e3, 18446744073709551615, -9223372036854775808],
                     "b": "x\u00e9\ud83d\ude00\n\"", "c": true, "d": null, "e": {}} )");
  ASSERT_TRUE(r.isOk()) << r.message();
  const auto &a = r->get("a")->elements();
  ASSERT_EQ(a.size(), 6u);
  EXPECT_TRUE(a[0].isUint64());
  EXPECT_EQ(a[0].asInt64(), 1);
  EXPECT_TRUE(a[1].isInt64());
  EXPECT_FALSE(a[1].isUint64());
  EXPECT_EQ(a[1].asInt64(), -2);
  EXPECT_FALSE(a[2].isInt64());
  EXPECT_DOUBLE_EQ(a[2].asDouble(), 3.5);
  EXPECT_FALSE(a[3].isInt64()); // 1e3 is written as a float
  EXPECT_DOUBLE_EQ(a[3].asDouble(), 1000.0);
  EXPECT_TRUE(a[4].isUint64());
  EXPECT_FALSE(a[4].isInt64());
  EXPECT_EQ(a[4].asUint64(), UINT64_MAX);
  EXPECT_TRUE(a[5].isInt64());
  EXPECT_EQ(a[5].asInt64(), INT64_MIN);
  EXPECT_EQ(r->get("b")->asString(), "x\xC3\xA9\xF0\x9F\x98\x80\n\"");
  EXPECT_TRUE(r->get("c")->asBool());
  EXPECT_TRUE(r->get("d")->isNull());
  EXPECT_TRUE(r->get("e")->isObject());
  EXPECT_EQ(r->get("zz"), nullptr);
  EXPECT_EQ(r->members()[0].first, "a"); // document order
}

TEST(StrictJson, Rejects) {
  struct Case { const char *text, *problem; };
  for (Case c : {Case{"", "unexpected end of input"},
                 Case{"{\"a\":1,\"a\":2}", "duplicate key 'a'"},
                 Case{"{\"a\":1,}", "expected a string key"},
                 Case{"[1,]", "unexpected character"},
                 Case{"[1 2]", "expected ',' or ']'"},
                 Case{"01", "leading zero"},
                 Case{"1.", "bad number"},
                 Case{"-", "bad number"},
                 Case{"1e999", "number out of range"},
                 Case{"\"\\ud800\"", "unpaired surrogate"},
                 Case{"\"\\udc00x\"", "unpaired surrogate"},
                 Case{"\"\\x\"", "bad escape"},
                 Case{"\"\\u12G4\"", "bad hex digit"},
                 Case{"\"a\nb\"", "control character"},
                 Case{"\"abc", "unterminated string"},
                 Case{"\"\xED\xA0\x80\"", "invalid UTF-8"},     // encoded surrogate
                 Case{"\"\xF4\x90\x80\x80\"", "invalid UTF-8"}, // > U+10FFFF
                 Case{"\"\xE0\x80\xAF\"", "invalid UTF-8"},     // overlong
                 Case{"\xEF\xBB\xBF{}", "byte order mark"},
                 Case{"nul", "unexpected character"},
                 Case{"{} {}", "unexpected data after the top-level value"}}) {
    SCOPED_TRACE(c.text);
    expectError(parse(c.text), {"t.json: invalid JSON at byte ", c.problem});
  }
  // Large objects take the hashed duplicate check.
  std::string big = "{";
  for (int i = 0; i < 50; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_TRUE(parse(big + "\"z\":0}").isOk());
  expectError(parse(big + "\"k17\":0}"), {"duplicate key 'k17'"});
  EXPECT_TRUE(parse(std::string(64, '[') + std::string(64, ']')).isOk());
  expectError(parse(std::string(65, '[') + std::string(65, ']')), {"nesting deeper than 64"});
}

TEST(StrictJson, Utf8Validator) {
  size_t bad = 0;
  EXPECT_TRUE(json::isValidUtf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(json::isValidUtf8("ab\xC3", &bad));
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(json::isValidUtf8("\xC1\xBF", &bad)); // overlong
  EXPECT_EQ(bad, 0u);
}
