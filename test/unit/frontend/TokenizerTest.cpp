// Byte-level BPE decoding with a tokenizer.json written by hand here.
#include "frontends/llama/Tokenizer.h"

#include "frontends/llama/StrictJson.h"

#include "FrontendTestUtil.h"

#include <algorithm>

using namespace qcc;
using namespace qcc::testing;

namespace {

// Tokens in GPT-2's byte-level spelling: "Ġ" (U+0120) is a space, "Ċ"
// (U+010A) a newline, "Ã" "©" are the bytes C3 A9 of "é", "ð" "Ł" "ĺ" "Ģ" the
// bytes F0 9F 98 80 of U+1F600.
const char kTokenizer[] = R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 9, "content": "<|end_of_text|>", "single_word": false, "lstrip": false,
     "rstrip": false, "normalized": false, "special": true},
    {"id": 13, "content": "<tool>", "special": false}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true},
  "model": {"type": "BPE", "dropout": null, "unk_token": null,
    "vocab": {"H": 0, "ello": 1, "Ġworld": 2, "Ċ": 3, "Ã©": 4, "Ã": 5, "©": 6,
              "ðŁĺĢ": 7, "caf": 8, "Ā": 10, "ÿ": 11, "Ń": 12, "<|end_of_text|>": 9},
    "merges": []}
})";

Tokenizer load() {
  auto r = parseTokenizer(kTokenizer, "tokenizer.json");
  EXPECT_TRUE(r.isOk()) << r.message();
  return r.isOk() ? std::move(*r) : Tokenizer();
}

void expectBad(const std::string &text, std::initializer_list<std::string> parts) {
  auto r = parseTokenizer(text, "tok.json");
  expectError(r, {"tok.json: "});
  expectError(r, parts);
}

} // namespace

TEST(Tokenizer, ByteTableMatchesGpt2) {
  // Printable Latin-1 stands for itself; the others count up from U+0100.
  EXPECT_EQ(byteToUnicode('A'), uint32_t('A'));
  EXPECT_EQ(byteToUnicode(0xE9), 0xE9u);
  EXPECT_EQ(byteToUnicode(0x00), 0x100u);
  EXPECT_EQ(byteToUnicode(' '), 0x120u);
  EXPECT_EQ(byteToUnicode('\n'), 0x10Au);
  EXPECT_EQ(byteToUnicode(0x7F), 0x121u);
  EXPECT_EQ(byteToUnicode(0x80), 0x122u);
  EXPECT_EQ(byteToUnicode(0xAD), 0x143u);
  // A bijection onto 256 distinct code points.
  std::vector<uint32_t> all;
  for (int b = 0; b < 256; ++b) all.push_back(byteToUnicode(static_cast<uint8_t>(b)));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
}

TEST(Tokenizer, Decodes) {
  Tokenizer t = load();
  EXPECT_EQ(t.size(), 14);
  EXPECT_EQ(t.decode({0, 1, 2, 3}), "Hello world\n");
  EXPECT_EQ(t.decode({8, 4}), "caf\xC3\xA9");        // café
  EXPECT_EQ(t.decode({8, 5, 6}), "caf\xC3\xA9");     // é split over two tokens
  EXPECT_EQ(t.decode({7}), "\xF0\x9F\x98\x80");      // U+1F600
  EXPECT_EQ(t.decode({10}), std::string(1, '\0'));   // byte 0x00
  EXPECT_EQ(t.decode({12}), "\xEF\xBF\xBD");         // lone byte 0xAD -> U+FFFD
  EXPECT_EQ(t.decode({5, 0}), "\xEF\xBF\xBDH");      // truncated sequence -> U+FFFD
  EXPECT_EQ(t.decode({11, 11}), "\xEF\xBF\xBD\xEF\xBF\xBD"); // 0xFF is never valid
  EXPECT_EQ(t.decode({0, 9}), "H<|end_of_text|>");
  EXPECT_EQ(t.decode({0, 9}, /*skipSpecial=*/true), "H");
  EXPECT_EQ(t.decode({13, 0}, true), "<tool>H"); // not special: kept
  EXPECT_TRUE(t.isSpecial(9));
  EXPECT_FALSE(t.isSpecial(13));
  ASSERT_NE(t.token(2), nullptr);
  EXPECT_EQ(*t.token(2), "\xC4\xA0world");
  EXPECT_EQ(t.token(14), nullptr);
  EXPECT_EQ(t.decode({}), "");
}

TEST(Tokenizer, UnknownIds) {
  Tokenizer t = load();
  EXPECT_EQ(t.decode({0, 99, 1, -3}), "H<unk:99>ello<unk:-3>");
  auto checked = t.decodeChecked({0, 1, 99});
  expectError(checked, {"token id 99 at position 2 is not in the vocabulary (size 14)"});
  auto ok = t.decodeChecked({0, 1});
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, "Hello");
}

TEST(Tokenizer, LoadsFromFile) {
  TempDir dir;
  writeFile(dir.file("tokenizer.json"), kTokenizer);
  auto r = loadTokenizer(dir.file("tokenizer.json"));
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(r->decode({0, 1}), "Hello");
  expectError(loadTokenizer(dir.file("none.json")), {dir.file("none.json"), "cannot open"});
}

TEST(TokenizerBad, Rejected) {
  std::string base = kTokenizer;
  auto swap = [&](const std::string &from, const std::string &to) {
    std::string s = base;
    size_t p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
  };
  expectBad("[]", {"top level is not an object"});
  expectBad("{\"model\":", {"invalid JSON"});
  expectBad(swap(R"("type": "BPE")", R"("type": "Unigram")"), {"model type 'Unigram' is not supported"});
  expectBad(swap(R"("decoder": {"type": "ByteLevel")", R"("decoder": {"type": "Metaspace")"),
            {"decoder 'Metaspace' is not supported"});
  expectBad(swap(R"("decoder": {)", R"("decoder": null, "x": {)"), {"no 'decoder'"});
  expectBad(swap(R"("ello": 1)", R"("ello": 0)"), {"id 0 is used by both 'H' and 'ello'"});
  expectBad(swap(R"("ello": 1)", R"("ello": -1)"), {"vocab entry 'ello' has an id that is not an integer"});
  expectBad(swap(R"("ello": 1)", R"("ello": 99999999999)"), {"vocab entry 'ello' has an id"});
  expectBad(swap(R"("ello": 1)", R"("H": 1)"), {"duplicate key 'H'"});
  expectBad(swap(R"("vocab": {)", R"("vocab": [], "v": {)"), {"no 'model.vocab' object"});
  expectBad(swap(R"("id": 13, "content": "<tool>")", R"("id": 13)"),
            {"added_tokens[1] has no string 'content'"});
  expectBad(swap(R"("id": 13, )", ""), {"added_tokens[1] has no 'id'"});
  // Decoder given as a Sequence that contains ByteLevel is accepted.
  auto seq = parseTokenizer(swap(R"("decoder": {"type": "ByteLevel")",
                                 R"("decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel"}]})" + std::string(R"(, "d2": {"type": "x")")),
                            "tok.json");
  EXPECT_TRUE(seq.isOk()) << seq.message();
}

// Against the independent reference: Hugging Face `tokenizers` decoded these
// id sequences with a byte-level BPE it trained (make_tokenizer_golden.py).
TEST(Tokenizer, MatchesHuggingFaceTokenizers) {
  const std::string in = std::string(QCC_SOURCE_DIR) + "/test/unit/frontend/Inputs/";
  auto tok = loadTokenizer(in + "bpe-tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  std::string goldenText = readFile(in + "bpe-decode.golden.json");
  auto golden = json::parse(goldenText, "bpe-decode.golden.json");
  ASSERT_TRUE(golden.isOk()) << golden.message();
  auto hex = [](const std::string &s) {
    static const char kHex[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : s) h += std::string{kHex[c >> 4], kHex[c & 15]};
    return h;
  };
  const auto &cases = golden->get("cases")->elements();
  ASSERT_GT(cases.size(), 400u);
  int withReplacement = 0;
  for (const json::Value &c : cases) {
    std::vector<int64_t> ids;
    for (const json::Value &id : c.get("ids")->elements()) ids.push_back(id.asInt64());
    const std::string &want = c.get("text_hex")->asString();
    withReplacement += want.find("efbfbd") != std::string::npos;
    auto got = tok->decodeChecked(ids);
    ASSERT_TRUE(got.isOk()) << got.message();
    EXPECT_EQ(hex(*got), want) << "ids[0] " << ids[0] << ", " << ids.size() << " ids";
    EXPECT_EQ(hex(tok->decode(ids, /*skipSpecial=*/true)), c.get("skip_special_hex")->asString());
  }
  EXPECT_GT(withReplacement, 10); // the lossy UTF-8 path is exercised
}
