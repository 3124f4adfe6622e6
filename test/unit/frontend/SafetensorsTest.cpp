// safetensors reading and writing, and the bad-file suite for its rules.
#include "frontends/llama/Safetensors.h"

#include "FrontendTestUtil.h"

#include <cstring>

using namespace qcc;
using namespace qcc::testing;

namespace {

// A valid two-tensor file: "a" F32 [2] at [0, 8), "b" U8 [3] at [8, 11).
const char kGoodHeader[] =
    R"({"__metadata__":{"format":"pt"},)"
    R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
    R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";

std::string goodData() {
  float a[2] = {1.5f, -2.25f};
  std::string d(reinterpret_cast<const char *>(a), 8);
  d += std::string("\x07\x08\x09", 3);
  return d;
}

// Writes `bytes` as <dir>/<name> and opens it.
Expected<std::unique_ptr<SafetensorsFile>> openBytes(const TempDir &dir, const std::string &bytes,
                                                     const std::string &name = "bad.safetensors") {
  writeFile(dir.file(name), bytes);
  return SafetensorsFile::open(dir.file(name));
}

// Opens a file made of `header` and `data`; expects failure naming the file and `parts`.
void expectBad(const std::string &header, const std::string &data,
               std::initializer_list<std::string> parts) {
  TempDir dir;
  auto r = openBytes(dir, rawSafetensors(header, data));
  expectError(r, {dir.file("bad.safetensors") + ": "});
  expectError(r, parts);
}

} // namespace

TEST(Safetensors, ReadsAValidFile) {
  TempDir dir;
  auto r = openBytes(dir, rawSafetensors(kGoodHeader, goodData()), "good.safetensors");
  ASSERT_TRUE(r.isOk()) << r.message();
  const SafetensorsFile &f = **r;
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorRef *a = f.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2}));
  float v[2];
  std::memcpy(v, a->data, 8);
  EXPECT_EQ(v[0], 1.5f);
  EXPECT_EQ(v[1], -2.25f);
  const TensorRef *b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->byteSize(), 3u);
  EXPECT_EQ(static_cast<const uint8_t *>(b->data)[2], 9);
  EXPECT_EQ(f.find("c"), nullptr);
  EXPECT_EQ(f.headerBytes(), std::string(kGoodHeader));
}

TEST(Safetensors, HeaderOrderNeedNotMatchDataOrderAndEmptyTensorsAreFine) {
  TempDir dir;
  std::string header = R"({"b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]},)"
                       R"("e":{"dtype":"BF16","shape":[0,5],"data_offsets":[4,4]},)"
                       R"("a":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})";
  auto r = openBytes(dir, rawSafetensors(header, "abcdefgh"), "order.safetensors");
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ((*r)->names(), (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ((*r)->find("e")->numel(), 0);
  EXPECT_EQ(std::memcmp((*r)->find("b")->data, "efgh", 4), 0);
}

TEST(Safetensors, WriterRoundTripsUnalignedData) {
  TempDir dir;
  // Odd sizes put the F32 tensor at an unaligned address in the mapping.
  uint8_t bytes3[3] = {1, 2, 3};
  float f[4] = {0.5f, 1e-3f, -7.0f, 3.25f};
  uint16_t h[6] = {1, 2, 3, 4, 5, 0xFFFF};
  std::vector<SafetensorsEntry> ts = {{"odd", DType::U8, {3}, bytes3},
                                      {"model.x", DType::F32, {2, 2}, f},
                                      {"quote\"name", DType::BF16, {2, 3}, h}};
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), ts, {{"k", "v"}}).isOk());
  auto r = SafetensorsFile::open(dir.file("w.safetensors"));
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ((*r)->headerBytes().size() % 8, 0u);
  EXPECT_EQ((*r)->metadata().at("k"), "v");
  const TensorRef *x = (*r)->find("model.x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->shape, (std::vector<int64_t>{2, 2}));
  float back[4];
  std::memcpy(back, x->data, sizeof back);
  EXPECT_EQ(std::memcmp(back, f, sizeof f), 0);
  ASSERT_NE((*r)->find("quote\"name"), nullptr);
  EXPECT_EQ(std::memcmp((*r)->find("quote\"name")->data, h, sizeof h), 0);
}

TEST(Safetensors, StreamingWriterTakesPiecesInOrderAndIsAtomic) {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  float a[3] = {1.0f, 2.0f, 3.0f};
  uint8_t b[5] = {9, 8, 7, 6, 5};
  {
    auto w = SafetensorsWriter::create(path, {{"a", DType::F32, {3}}, {"b", DType::U8, {5}}});
    ASSERT_TRUE(w.isOk()) << w.message();
    EXPECT_EQ((*w)->nextTensor(), "a");
    Status wrong = (*w)->write("b", b, 5);
    ASSERT_FALSE(wrong.isOk());
    EXPECT_NE(wrong.message().find("out of order"), std::string::npos) << wrong.message();
    ASSERT_TRUE((*w)->append(a, 4).isOk());
    ASSERT_TRUE((*w)->append(reinterpret_cast<uint8_t *>(a) + 4, 8).isOk());
    EXPECT_EQ((*w)->nextTensor(), "b");
    Status early = (*w)->finish();
    ASSERT_FALSE(early.isOk());
    EXPECT_NE(early.message().find("'b' is incomplete"), std::string::npos) << early.message();
  } // destroyed without finish(): nothing at `path`
  EXPECT_FALSE(SafetensorsFile::open(path).isOk());

  auto w = SafetensorsWriter::create(path, {{"a", DType::F32, {3}}, {"b", DType::U8, {5}}});
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_TRUE((*w)->write("a", a, 12).isOk());
  ASSERT_FALSE((*w)->append(b, 6).isOk()); // past the declared end
  ASSERT_TRUE((*w)->write("b", b, 5).isOk());
  EXPECT_EQ((*w)->nextTensor(), "");
  ASSERT_TRUE((*w)->finish().isOk());
  auto r = SafetensorsFile::open(path);
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(std::memcmp((*r)->find("a")->data, a, 12), 0);
  EXPECT_EQ(std::memcmp((*r)->find("b")->data, b, 5), 0);
}

TEST(Safetensors, StreamingWriterRejectsRepeatedNames) {
  TempDir dir;
  auto w = SafetensorsWriter::create(dir.file("d.safetensors"), {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}});
  ASSERT_FALSE(w.isOk());
  EXPECT_NE(w.message().find("repeated"), std::string::npos) << w.message();
}

TEST(Safetensors, ReadsStories260K) {
  auto r = SafetensorsFile::open(sharedDir() + "/models/stories260K/model.safetensors");
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ((*r)->size(), 47u); // embed + 5 layers * 9 + final norm (tied head)
  const TensorRef *e = (*r)->find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{512, 64}));
  // First and last values, read independently with Python's struct module.
  float v[4];
  std::memcpy(v, e->data, sizeof v);
  EXPECT_FLOAT_EQ(v[0], -0.29474878311157227f);
  EXPECT_FLOAT_EQ(v[3], 0.34057360887527466f);
  float last;
  std::memcpy(&last, static_cast<const char *>(e->data) + e->byteSize() - 4, 4);
  EXPECT_FLOAT_EQ(last, -0.424032598733902f);
}

// ---- the bad-file suite -------------------------------------------------

TEST(SafetensorsBad, MissingFile) {
  TempDir dir;
  auto r = SafetensorsFile::open(dir.file("absent.safetensors"));
  expectError(r, {dir.file("absent.safetensors"), "cannot open"});
}

TEST(SafetensorsBad, TruncatedAtSeveralOffsets) {
  const std::string good = rawSafetensors(kGoodHeader, goodData());
  const size_t headerEnd = 8 + std::strlen(kGoodHeader);
  for (size_t cut : {size_t(0), size_t(3), size_t(7), size_t(8), size_t(9), size_t(40),
                     headerEnd - 1, headerEnd, headerEnd + 4, good.size() - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " bytes");
    TempDir dir;
    auto r = openBytes(dir, good.substr(0, cut));
    expectError(r, {dir.file("bad.safetensors") + ": "});
    if (cut < 8) expectError(r, {"too short for the 8-byte header length"});
    else if (cut < headerEnd) expectError(r, {"is beyond the end of the file"});
    else expectError(r, {"beyond the end of the data section"});
  }
}

TEST(SafetensorsBad, HeaderLengthOverLimit) {
  TempDir dir;
  auto r = openBytes(dir, u64le(100000001) + std::string(kGoodHeader));
  expectError(r, {dir.file("bad.safetensors"), "header length 100000001 exceeds the limit"});
  auto r2 = openBytes(dir, u64le(UINT64_MAX) + std::string(kGoodHeader), "huge.safetensors");
  expectError(r2, {dir.file("huge.safetensors"), "header length 18446744073709551615 exceeds"});
}

TEST(SafetensorsBad, HeaderLengthBeyondFile) {
  TempDir dir;
  auto r = openBytes(dir, u64le(1000) + std::string(kGoodHeader));
  expectError(r, {dir.file("bad.safetensors"), "header length 1000 is beyond the end of the file"});
}

TEST(SafetensorsBad, InvalidUtf8) {
  // A tensor name with a lone continuation byte; then an overlong '/'.
  expectBad("{\"a\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "x",
            {"not valid UTF-8 (byte 3)"});
  expectBad("{\"a\xC0\xAF\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "x",
            {"not valid UTF-8"});
}

TEST(SafetensorsBad, InvalidJson) {
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]})", "x",
            {"invalid JSON", "unexpected end of input"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}} x)", "x",
            {"invalid JSON", "unexpected data after the top-level value"});
}

TEST(SafetensorsBad, NotAnObject) {
  expectBad("[1, 2]", "", {"header is an array, not a JSON object"});
  expectBad("\"str\"", "", {"header is a string, not a JSON object"});
}

TEST(SafetensorsBad, DuplicateName) {
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
            R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
            "xy", {"duplicate key 'a'"});
}

TEST(SafetensorsBad, UnknownDtype) {
  expectBad(R"({"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", "abcd",
            {"tensor 'a' has unknown dtype 'F17'"});
  expectBad(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "abcd",
            {"tensor 'a' dtype is not a string"});
}

TEST(SafetensorsBad, ShapeOverflow) {
  // 2^32 * 2^32 elements overflows 64 bits.
  expectBad(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}})", "x",
            {"tensor 'a' shape product overflows"});
  // 2^62 elements of 4 bytes: numel fits, bytes do not.
  expectBad(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,1]}})", "x",
            {"tensor 'a' shape product overflows"});
  // A dimension beyond int64.
  expectBad(R"({"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,1]}})", "x",
            {"not a non-negative integer"});
}

TEST(SafetensorsBad, BadShapeValues) {
  expectBad(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x",
            {"tensor 'a' shape has a dimension that is not a non-negative integer"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", "x",
            {"tensor 'a' shape has a dimension that is not a non-negative integer"});
  expectBad(R"({"a":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", "x",
            {"tensor 'a' shape is not an array"});
}

TEST(SafetensorsBad, SizeMismatch) {
  expectBad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd",
            {"tensor 'a' data_offsets [0, 4) hold 4 bytes but F32 shape needs 8"});
}

TEST(SafetensorsBad, Gap) {
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
            R"("b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
            "xyz", {"gap in the data section between tensor 'a' [0, 1) and 'b' [2, 3)"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", "xy",
            {"tensor 'a' data range [1, 2) leaves a gap: the data section starts at 0"});
}

TEST(SafetensorsBad, Overlap) {
  expectBad(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
            R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
            "xyz", {"tensor 'b' data range [1, 3) overlaps 'a' [0, 2)"});
}

TEST(SafetensorsBad, OffsetsOutOfOrder) {
  expectBad(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", "abcd",
            {"tensor 'a' data_offsets [4, 0) end before they begin"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", "a",
            {"tensor 'a' data_offsets is not a pair of non-negative integers"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,-1]}})", "a",
            {"tensor 'a' data_offsets is not a pair of non-negative integers"});
}

TEST(SafetensorsBad, OffsetsBeyondData) {
  expectBad(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", "abcd",
            {"tensor 'a' data range [0, 8) is beyond the end of the data section (4 bytes)"});
  // Offsets near 2^64: end - begin matches, but the range is nowhere near the file.
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}})",
            "a", {"tensor 'a' data range [18446744073709551614, 18446744073709551615) leaves a gap"});
}

TEST(SafetensorsBad, TrailingBytes) {
  expectBad(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "abcd",
            {"data section is 4 bytes but the tensors cover 2"});
}

TEST(SafetensorsBad, MalformedEntries) {
  expectBad(R"({"a":[1,2]})", "", {"tensor 'a' is an array, not an object"});
  expectBad(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", "x", {"tensor 'a' has no dtype"});
  expectBad(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", "x", {"tensor 'a' has no shape"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1]}})", "x", {"tensor 'a' has no data_offsets"});
  expectBad(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}})", "x",
            {"tensor 'a' has unknown field 'x'"});
  expectBad(R"({"__metadata__":{"format":1}})", "", {"__metadata__ value for 'format' is not a string"});
  expectBad(R"({"__metadata__":"pt"})", "", {"__metadata__ is a string, not an object"});
}

TEST(SafetensorsBad, DeepNesting) {
  std::string header = "{\"__metadata__\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expectBad(header, "", {"nesting deeper than 64"});
}

// Every truncation, and single-byte corruptions at every header position:
// each either opens or fails with a message naming the file (run under
// ASan + UBSan, this also checks nothing is read out of bounds).
TEST(SafetensorsBad, MutationsNeverCrash) {
  const std::string good = rawSafetensors(kGoodHeader, goodData());
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  int opened = 0, failed = 0;
  auto check = [&](const std::string &bytes) {
    writeFile(path, bytes);
    auto r = SafetensorsFile::open(path);
    if (r.isOk()) {
      ++opened;
      for (const std::string &n : (*r)->names()) {
        const TensorRef *t = (*r)->find(n);
        // The tensor lies inside the file.
        const char *begin = static_cast<const char *>(t->data);
        EXPECT_LE(t->byteSize(), bytes.size());
        volatile char sink = t->byteSize() ? begin[t->byteSize() - 1] : 0;
        (void)sink;
      }
    } else {
      ++failed;
      EXPECT_EQ(r.message().rfind(path + ": ", 0), 0u) << r.message();
    }
  };
  for (size_t cut = 0; cut < good.size(); ++cut) check(good.substr(0, cut));
  for (size_t i = 0; i < 8 + std::strlen(kGoodHeader); ++i)
    for (char c : {'\0', '"', '{', '}', '9', ']', ',', '\xFF'}) {
      std::string m = good;
      m[i] = c;
      check(m);
    }
  EXPECT_GT(failed, 500);
  EXPECT_GT(opened, 0); // some corruptions are harmless (inside the metadata string)
}
