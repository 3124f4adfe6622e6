// Encoding parity with Hugging Face `tokenizers`, id for id, on the goldens
// scripts/python/make_tokenizer_goldens.py wrote: the bundled model's
// tokenizer.json, the Llama-3-style one (models/llama3-style-tokenizer) and
// variants covering every construct the encoder implements. Also: round
// trips, streaming decode, and precise errors for malformed files.
#include "frontends/llama/PreTokenizer.h"
#include "frontends/llama/StrictJson.h"
#include "frontends/llama/Tokenizer.h"
#include "frontends/llama/Utf8.h"

#include "FrontendTestUtil.h"

#include <random>

using namespace qcc;
using namespace qcc::testing;

namespace {

const std::string kInputs = std::string(QCC_SOURCE_DIR) + "/test/unit/frontend/Inputs/";

std::string fromHex(const std::string &hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string toHex(const std::string &s) {
  static const char kHex[] = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) h += std::string{kHex[c >> 4], kHex[c & 15]};
  return h;
}

std::vector<int64_t> idsOf(const json::Value &array) {
  std::vector<int64_t> ids;
  for (const json::Value &v : array.elements()) ids.push_back(v.asInt64());
  return ids;
}

json::Value loadGolden(const std::string &name) {
  auto golden = json::parse(readFile(kInputs + name), name);
  EXPECT_TRUE(golden.isOk()) << golden.message();
  return golden.isOk() ? std::move(*golden) : json::Value();
}

std::string shortText(const std::string &text) {
  std::string s = text.substr(0, 60);
  return "'" + utf8::lossy(s) + "'" + (text.size() > 60 ? "..." : "") + " (hex " + toHex(text.substr(0, 24)) + ")";
}

// Checks every case of a golden against `tok`; returns the number of cases.
size_t checkCases(const Tokenizer &tok, const std::vector<std::string> &texts, const json::Value &cases,
                  const std::string &label) {
  EXPECT_EQ(texts.size(), cases.elements().size());
  size_t checked = 0;
  for (size_t i = 0; i < texts.size() && i < cases.elements().size(); ++i) {
    const std::string &text = texts[i];
    const json::Value &c = cases.elements()[i];
    std::vector<int64_t> want = idsOf(*c.get("ids"));
    std::vector<int64_t> wantPlain = c.get("ids_no_special")->isNull() ? want : idsOf(*c.get("ids_no_special"));
    auto got = tok.encode(text);
    auto plain = tok.encode(text, /*addSpecialTokens=*/false);
    if (!got.isOk() || !plain.isOk()) {
      ADD_FAILURE() << label << " case " << i << ": " << (got.isOk() ? plain.message() : got.message());
      continue;
    }
    EXPECT_EQ(*got, want) << label << " case " << i << ": " << shortText(text);
    EXPECT_EQ(*plain, wantPlain) << label << " case " << i << " without special tokens: " << shortText(text);
    // decode(encode(x)) == x, with invalid UTF-8 read as `tokenizers` got it.
    const std::string decoded = tok.decode(*plain);
    const json::Value *decodedHex = c.get("decoded_hex");
    const std::string expected = decodedHex->isNull() ? utf8::lossy(text) : fromHex(decodedHex->asString());
    EXPECT_EQ(toHex(decoded), toHex(expected)) << label << " case " << i << " decode: " << shortText(text);
    ++checked;
  }
  return checked;
}

// The JSON text without whitespace outside strings, so tests can edit it by
// exact substrings.
std::string compactJson(const std::string &text) {
  std::string out;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      out += c;
      if (c == '\\') out += text[++i];
      else if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
      out += c;
    } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> textsOf(const json::Value &golden) {
  std::vector<std::string> texts;
  for (const json::Value &h : golden.get("texts_hex")->elements()) texts.push_back(fromHex(h.asString()));
  return texts;
}

} // namespace

TEST(TokenizerEncode, BundledModelMatchesTokenizers) {
  json::Value golden = loadGolden("encode-bundled.golden.json");
  auto tok = loadTokenizer(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare/tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  ASSERT_TRUE(tok->canEncode()) << tok->encoderStatus().message();
  std::vector<std::string> texts = textsOf(golden);
  EXPECT_GT(checkCases(*tok, texts, *golden.get("cases"), "bundled"), 450u);
}

TEST(TokenizerEncode, Llama3StyleMatchesTokenizers) {
  json::Value golden = loadGolden("encode-llama3.golden.json");
  const std::string path = std::string(QCC_SOURCE_DIR) + "/models/llama3-style-tokenizer/tokenizer.json";
  auto tok = loadTokenizer(path);
  ASSERT_TRUE(tok.isOk()) << tok.message();
  ASSERT_TRUE(tok->canEncode()) << tok->encoderStatus().message();
  EXPECT_EQ(tok->size(), 2048);
  EXPECT_EQ(tok->prefixIds(), std::vector<int64_t>{1792}); // <|begin_of_text|>
  EXPECT_EQ(tok->idOf("<|eot_id|>"), std::optional<int64_t>(1801));
  std::vector<std::string> texts = textsOf(golden);
  EXPECT_GT(checkCases(*tok, texts, *golden.get("cases"), "llama3"), 450u);

  // The pre-tokenizer alone (Llama 3's regular expression, then byte-level
  // spelling): the same pieces as `tokenizers`' pre_tokenize_str.
  auto spec = json::parse(readFile(path), path);
  ASSERT_TRUE(spec.isOk());
  auto pre = PreTokenizer::parse(spec->get("pre_tokenizer"), path);
  ASSERT_TRUE(pre.isOk()) << pre.message();
  const auto &cases = golden.get("cases")->elements();
  size_t pieces = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::string> want;
    for (const json::Value &p : cases[i].get("pieces")->elements()) want.push_back(p.asString());
    // Added tokens are cut out before pre-tokenization; pre_tokenize_str sees them as text.
    auto got = pre->pieces(utf8::lossy(texts[i]));
    ASSERT_TRUE(got.isOk()) << got.message();
    EXPECT_EQ(*got, want) << "case " << i << ": " << shortText(texts[i]);
    pieces += want.size();
  }
  EXPECT_GT(pieces, 9000u);
}

TEST(TokenizerEncode, VariantsMatchTokenizers) {
  json::Value golden = loadGolden("encode-variants.golden.json");
  std::vector<std::string> texts = textsOf(golden);
  size_t variants = 0;
  for (const json::Value &v : golden.get("variants")->elements()) {
    const std::string name = v.get("name")->asString();
    auto tok = parseTokenizer(v.get("tokenizer_json")->asString(), name + ".json");
    ASSERT_TRUE(tok.isOk()) << name << ": " << tok.message();
    ASSERT_TRUE(tok->canEncode()) << name << ": " << tok->encoderStatus().message();
    checkCases(*tok, texts, *v.get("cases"), name);
    ++variants;
  }
  EXPECT_EQ(variants, 16u);
}

TEST(TokenizerEncode, InvalidUtf8IsReplacedLikePython) {
  auto tok = loadTokenizer(std::string(QCC_SOURCE_DIR) + "/models/llama3-style-tokenizer/tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  // A lone continuation byte, a surrogate, a truncated emoji: each maximal
  // invalid part is one U+FFFD, as Python's errors="replace".
  for (const std::string &bad : {std::string("a\x80z"), std::string("\xED\xA0\x80"), std::string("x\xF0\x9F\x98")}) {
    auto a = tok->encode(bad, false), b = tok->encode(utf8::lossy(bad), false);
    ASSERT_TRUE(a.isOk() && b.isOk());
    EXPECT_EQ(*a, *b);
  }
  EXPECT_EQ(utf8::lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::lossy("x\xF0\x9F\x98"), "x\xEF\xBF\xBD");
  EXPECT_EQ(utf8::firstInvalid("ok \xC3\xA9 \xC3"), 6u);
  EXPECT_EQ(utf8::firstInvalid("ok \xC3\xA9"), std::string_view::npos);
}

// Streaming decode prints whole characters only, and all of it equals decode().
TEST(TokenizerEncode, DecodeStreamEqualsDecode) {
  auto tok = loadTokenizer(kInputs + "bpe-tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    std::vector<int64_t> ids;
    for (int k = 0; k < 1 + int(rng() % 12); ++k) ids.push_back(int64_t(rng() % (tok->size() + 3)) - 1);
    for (bool skip : {false, true}) {
      DecodeStream stream(*tok, skip);
      std::string all;
      for (int64_t id : ids) {
        std::string part = stream.push(id);
        EXPECT_EQ(utf8::firstInvalid(part), std::string_view::npos);
        all += part;
      }
      all += stream.finish();
      EXPECT_EQ(toHex(all), toHex(tok->decode(ids, skip)));
    }
  }
  // A character over two tokens is held back until it is complete.
  auto e = tok->encode("é", false);
  ASSERT_TRUE(e.isOk());
  std::string bytes;
  for (int64_t id : *e) tok->appendTokenBytes(id, bytes);
  EXPECT_EQ(bytes, "\xC3\xA9");
  EXPECT_EQ(utf8::completePrefix("ab\xC3"), 2u);
  EXPECT_EQ(utf8::completePrefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(utf8::completePrefix("ab\xE2\x28"), 4u); // invalid already: printed as U+FFFD
  EXPECT_EQ(utf8::completePrefix("ab\xC3\xA9"), 4u);
}

// Malformed files: each a load error that names the file and what is wrong.
TEST(TokenizerEncode, MalformedFilesAreRejected) {
  const std::string base = compactJson(readFile(kInputs + "bpe-tokenizer.json"));
  ASSERT_FALSE(base.empty());
  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string s = base;
    size_t p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return p == std::string::npos ? s : s.replace(p, from.size(), to);
  };
  auto bad = [](const std::string &text, std::initializer_list<std::string> parts) {
    auto r = parseTokenizer(text, "tok.json");
    expectError(r, {"tok.json: "});
    expectError(r, parts);
  };
  // Missing merges.
  bad(replaced("\"merges\":", "\"merges_\":"), {"model.merges is missing"});
  bad(replaced("\"merges\":[", "\"merges\":{},\"m\":["), {"model.merges is not an array"});
  // A merge of tokens the vocabulary does not have, or whose result it lacks.
  bad(replaced("\"merges\":[", "\"merges\":[[\"zz\",\"q\"],"), {"model.merges[0] ('zz' 'q'): 'zz' is not in the vocabulary"});
  bad(replaced("\"merges\":[", "\"merges\":[[\"q\",\"\\u00e6\\u00e6\"],"), {"model.merges[0]", "is not in the vocabulary"});
  bad(replaced("\"merges\":[", "\"merges\":[[\"Q\",\"q\"],"), {"model.merges[0] ('Q' 'q'): the merged token 'Qq' is not in the vocabulary"});
  bad(replaced("\"merges\":[", "\"merges\":[\"a b c\","), {"model.merges[0] 'a b c' is not two tokens separated by one space"});
  bad(replaced("\"merges\":[", "\"merges\":[7,"), {"model.merges[0] is neither"});
  // A pair twice.
  auto spec = json::parse(base, "base");
  ASSERT_TRUE(spec.isOk());
  const json::Value &first = spec->get("model")->get("merges")->elements()[0];
  std::string pair = "[\"" + first.elements()[0].asString() + "\",\"" + first.elements()[1].asString() + "\"]";
  std::string twice = base;
  size_t mergesAt = twice.find("\"merges\":[");
  ASSERT_NE(mergesAt, std::string::npos);
  twice.insert(twice.find(']', twice.find(']', mergesAt + 11) + 1) + 1, "," + pair);
  bad(twice, {"repeats model.merges[0]"});
  // Duplicate ids, in the vocabulary and across added tokens.
  bad(replaced("\"!\":2", "\"!\":3"), {"id 3 is used by both"});
  bad(replaced("\"id\":1,", "\"id\":0,"), {"added_tokens[1] '<|end_of_text|>' has id 0, but model.vocab gives it id 1"});
  bad(replaced("\"added_tokens\":[", "\"added_tokens\":[{\"id\":400,\"content\":\"<x>\",\"special\":true},"
                                     "{\"id\":400,\"content\":\"<y>\",\"special\":true},"),
      {"added_tokens[1] '<y>' has id 400, but `tokenizers` numbers it 401"});
  bad(replaced("\"added_tokens\":[", "\"added_tokens\":[{\"id\":0,\"content\":\"<|begin_of_text|>\"},"),
      {"added_tokens[1] repeats the content '<|begin_of_text|>' of added_tokens[0]"});
  // Not a BPE, no decoder.
  bad(replaced("\"type\":\"BPE\"", "\"type\":\"WordPiece\""), {"model type 'WordPiece' is not supported (qcc implements byte-level BPE)"});
}

// Constructs qcc does not implement: the file loads (it can decode) and
// encoding fails with an error naming the construct.
TEST(TokenizerEncode, UnsupportedConstructsAreNamed) {
  const std::string base = compactJson(readFile(kInputs + "bpe-tokenizer.json"));
  auto with = [&](const std::string &from, const std::string &to, std::initializer_list<std::string> parts) {
    std::string s = base;
    size_t p = s.find(from);
    ASSERT_NE(p, std::string::npos) << from;
    s.replace(p, from.size(), to);
    auto tok = parseTokenizer(s, "tok.json");
    ASSERT_TRUE(tok.isOk()) << tok.message();
    EXPECT_FALSE(tok->canEncode());
    expectError(tok->encode("hello"), parts);
    EXPECT_EQ(tok->decode({40}), *tok->token(40)); // decoding still works
  };
  with("\"normalizer\":null", "\"normalizer\":{\"type\":\"NFC\"}", {"tok.json: normalizer 'NFC' is not supported"});
  with("\"pre_tokenizer\":{", "\"pre_tokenizer\":{\"type\":\"Metaspace\"},\"x\":{",
       {"tok.json: pre_tokenizer: pre-tokenizer 'Metaspace' is not supported"});
  with("\"pre_tokenizer\":{", "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"}]},\"x\":{",
       {"pre_tokenizer.pretokenizers[0]: pre-tokenizer 'Digits' is not supported"});
  with("\"pre_tokenizer\":{", "\"pre_tokenizer\":null,\"x\":{", {"the pre_tokenizer has no ByteLevel step"});
  with("\"pre_tokenizer\":{", "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\bx\"},\"behavior\":\"Isolated\",\"invert\":false},\"x\":{",
       {"pre_tokenizer pattern: the regular expression construct '\\b' is not supported"});
  with("\"pre_tokenizer\":{", "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(x\"},\"behavior\":\"Isolated\",\"invert\":false},\"x\":{",
       {"regular expression '(x' does not compile"});
  with("\"post_processor\":null", "\"post_processor\":{\"type\":\"RobertaProcessing\"}",
       {"post_processor: post-processor 'RobertaProcessing' is not supported"});
  with("\"dropout\":null", "\"dropout\":0.1", {"model.dropout is set"});
  with("\"byte_fallback\":false", "\"byte_fallback\":true", {"model.byte_fallback is not supported"});
  with("\"continuing_subword_prefix\":null", "\"continuing_subword_prefix\":\"##\"",
       {"model.continuing_subword_prefix is not supported"});
  with("\"truncation\":null", "\"truncation\":{\"max_length\":8}", {"'truncation' is set"});
  with("\"unk_token\":null", "\"unk_token\":\"<nope>\"", {"model.unk_token '<nope>' is not in the vocabulary"});
  // A vocabulary without every byte symbol, and no unk token.
  with("\"\u0100\":", "\"\u0100_gone\":", {"model.vocab has no symbol for byte 0x00"});
}
