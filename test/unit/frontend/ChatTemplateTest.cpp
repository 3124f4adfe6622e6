// Chat transcripts: qcc's Llama 3 chat formats, encoded, give the ids that
// transformers' apply_chat_template gives for the same messages
// (chat.golden.json, from scripts/python/make_tokenizer_goldens.py), and the
// turn-by-turn encoding `qcc chat` feeds the model adds up to the same ids.
#include "frontends/llama/ChatTemplate.h"
#include "frontends/llama/StrictJson.h"
#include "frontends/llama/TextData.h"
#include "frontends/llama/TokenIds.h"
#include "frontends/llama/Tokenizer.h"

#include "FrontendTestUtil.h"

using namespace qcc;
using namespace qcc::testing;

namespace {

const std::string kModel = std::string(QCC_SOURCE_DIR) + "/models/llama3-style-tokenizer/";

std::vector<ChatMessage> messagesOf(const json::Value &list) {
  std::vector<ChatMessage> out;
  for (const json::Value &m : list.elements()) out.push_back({m.get("role")->asString(), m.get("content")->asString()});
  return out;
}

} // namespace

TEST(ChatTemplate, TranscriptsMatchApplyChatTemplate) {
  auto tok = loadTokenizer(kModel + "tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  const std::string config = readFile(kModel + "tokenizer_config.json");
  auto text31 = findChatTemplate(config, "", kModel);
  ASSERT_TRUE(text31.isOk()) << text31.message();
  ASSERT_TRUE(text31->has_value());
  auto format31 = recognizeChatTemplate(**text31, "tokenizer_config.json");
  ASSERT_TRUE(format31.isOk()) << format31.message();
  EXPECT_EQ(format31->kind, ChatFormat::Kind::Llama31);
  EXPECT_EQ(format31->dateString, "26 Jul 2024");
  EXPECT_FALSE(format31->todaysDate);

  auto golden = json::parse(readFile(std::string(QCC_SOURCE_DIR) + "/test/unit/frontend/Inputs/chat.golden.json"), "chat");
  ASSERT_TRUE(golden.isOk()) << golden.message();
  auto format30 = recognizeChatTemplate(golden->get("llama30_template")->asString(), "llama30");
  ASSERT_TRUE(format30.isOk()) << format30.message();
  EXPECT_EQ(format30->kind, ChatFormat::Kind::Llama30);

  int checked = 0;
  for (const json::Value &c : golden->get("cases")->elements()) {
    ChatFormat f = c.get("format")->asString() == "llama-3.0" ? *format30 : *format31;
    if (const json::Value *date = c.get("date_string")) f.dateString = date->asString();
    std::vector<ChatMessage> messages = messagesOf(*c.get("messages"));
    bool generation = c.get("add_generation_prompt")->asBool();
    auto ids = tok->encode(f.render(messages, generation), /*addSpecialTokens=*/false);
    ASSERT_TRUE(ids.isOk()) << ids.message();
    std::vector<int64_t> want;
    for (const json::Value &v : c.get("ids")->elements()) want.push_back(v.asInt64());
    EXPECT_EQ(*ids, want) << c.get("format")->asString() << " case " << checked << ": "
                          << f.render(messages, generation);
    ++checked;
  }
  EXPECT_EQ(checked, 30);
}

// `qcc chat` encodes the prefix with the first user turn, then each reply and
// turn on its own; with the replies' ids kept, that is the whole transcript.
TEST(ChatTemplate, TurnByTurnEqualsWholeTranscript) {
  auto tok = loadTokenizer(kModel + "tokenizer.json");
  ASSERT_TRUE(tok.isOk()) << tok.message();
  auto templ = findChatTemplate(readFile(kModel + "tokenizer_config.json"), "", kModel);
  ASSERT_TRUE(templ.isOk() && templ->has_value());
  auto golden = json::parse(readFile(std::string(QCC_SOURCE_DIR) + "/test/unit/frontend/Inputs/chat.golden.json"), "chat");
  ASSERT_TRUE(golden.isOk());
  auto f31 = recognizeChatTemplate(**templ, "t");
  auto f30 = recognizeChatTemplate(golden->get("llama30_template")->asString(), "t");
  ASSERT_TRUE(f31.isOk() && f30.isOk());
  auto enc = [&](const std::string &s) {
    auto ids = tok->encode(s, false);
    EXPECT_TRUE(ids.isOk());
    return ids.isOk() ? *ids : std::vector<int64_t>();
  };
  for (const ChatFormat &f : {*f31, *f30})
    for (const std::string system : {"Speak like a sonnet.", ""}) {
      std::vector<ChatMessage> conversation = {{"user", "Good morrow!"}, {"assistant", "Good morrow, gentle friend."},
                                               {"user", " What news?\n"}, {"assistant", "None, my lord."}};
      // A conversation without --system has no system message (Llama 3.1 still opens with its block).
      if (!system.empty()) conversation.insert(conversation.begin(), {"system", system});
      const size_t firstUser = system.empty() ? 0 : 1;
      std::vector<int64_t> turns = enc(f.prefix(system) + f.message(conversation[firstUser]) + f.generationPrompt());
      for (size_t i = firstUser + 1; i < conversation.size(); ++i) {
        if (conversation[i].role == "assistant") {
          // The reply as generated (its text), then the <|eot_id|> that ended it.
          std::vector<int64_t> reply = enc(trimLikePython(conversation[i].content) + "<|eot_id|>");
          turns.insert(turns.end(), reply.begin(), reply.end());
        } else {
          std::vector<int64_t> next = enc(f.message(conversation[i]) + f.generationPrompt());
          turns.insert(turns.end(), next.begin(), next.end());
        }
      }
      // With every reply closed by <|eot_id|>, the turns add up to the whole transcript.
      std::vector<int64_t> whole = enc(f.render(conversation, /*addGenerationPrompt=*/false));
      EXPECT_EQ(turns, whole) << (f.kind == ChatFormat::Kind::Llama31 ? "3.1" : "3.0") << " system '" << system << "'";
    }
}

TEST(ChatTemplate, TrimsLikePython) {
  EXPECT_EQ(trimLikePython("  a b \n"), "a b");
  EXPECT_EQ(trimLikePython("\x1c\x1d x \x1e\x1f"), "x");
  EXPECT_EQ(trimLikePython("\u3000\u2028\u00a0x\u0085\u2009"), "x");
  EXPECT_EQ(trimLikePython("\u200bx\u200b"), "\u200bx\u200b"); // zero-width space is not whitespace
  EXPECT_EQ(trimLikePython(" \t\n"), "");
  EXPECT_EQ(trimLikePython(""), "");
  EXPECT_EQ(todayDateString().size(), 11u);
}

TEST(ChatTemplate, FindsAndRecognisesTemplates) {
  // chat_template.jinja wins over tokenizer_config.json.
  auto t = findChatTemplate("{\"chat_template\": \"A\"}", "B", "m/");
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(**t, "B");
  t = findChatTemplate("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
                       "{\"name\": \"default\", \"template\": \"D\"}]}", "", "m/");
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(**t, "D");
  t = findChatTemplate("{\"bos_token\": \"<s>\"}", "", "m/");
  ASSERT_TRUE(t.isOk());
  EXPECT_FALSE(t->has_value());
  expectError(findChatTemplate("{\"chat_template\": 3}", "", "m/"),
              {"m/tokenizer_config.json: chat_template is neither a string nor a list"});
  expectError(findChatTemplate("{\"chat_template\": [{\"name\": \"x\", \"template\": \"T\"}]}", "", "m/"),
              {"no template named 'default'"});
  auto bos = configBosToken("{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}}", "m/");
  ASSERT_TRUE(bos.isOk());
  EXPECT_EQ(**bos, "<s>");

  expectError(recognizeChatTemplate("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", "m.qcc"),
              {"m.qcc: the chat template is not a Llama 3 chat format"});
  // Llama 3.2's template takes today's date.
  auto f32 = recognizeChatTemplate("<|start_header_id|><|end_header_id|><|eot_id|>Cutting Knowledge Date "
                                   "{%- set date_string = strftime_now(\"%d %b %Y\") %} {%- set date_string = "
                                   "\"26 Jul 2024\" %}",
                                   "t");
  ASSERT_TRUE(f32.isOk());
  EXPECT_TRUE(f32->todaysDate);
  EXPECT_NE(f32->prefix("").find("Today Date: " + todayDateString() + "\n\n"), std::string::npos);
}

TEST(TextData, WindowsMatchTheBundledEvalSplit) {
  // eval.ids: the held-out text encoded by `tokenizers`, cut into windows of
  // BOS + 255 tokens. The same text through loadTextWindows gives the same ids.
  auto tok = loadTokenizer(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare/tokenizer.json");
  ASSERT_TRUE(tok.isOk());
  const std::string text = readFile(std::string(QCC_SOURCE_DIR) + "/test/Eval/Inputs/heldout-head.txt");
  ASSERT_FALSE(text.empty());
  auto windows = textWindows(*tok, text, "heldout-head.txt", 256, 4, /*bosId=*/0);
  ASSERT_TRUE(windows.isOk()) << windows.message();
  const std::string evalIds = readFile(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare/eval.ids");
  size_t lineStart = 0;
  for (size_t w = 0; w < 4; ++w) { // 1,020 of the excerpt's ~1,400 tokens: far from where it was cut
    size_t lineEnd = evalIds.find('\n', lineStart);
    std::vector<int64_t> want;
    size_t i = lineStart;
    while (i < lineEnd) {
      size_t j = evalIds.find(' ', i);
      if (j == std::string::npos || j > lineEnd) j = lineEnd;
      want.push_back(std::stoll(evalIds.substr(i, j - i)));
      i = j + 1;
    }
    EXPECT_EQ((*windows)[w], want) << "window " << w;
    lineStart = lineEnd + 1;
  }
  EXPECT_EQ(windows->size(), 4u);
  // No BOS: windows of text tokens only; a short last window is kept.
  auto plain = textWindows(*tok, "To be, or not to be", "t.txt", 3, 0, -1);
  ASSERT_TRUE(plain.isOk());
  auto all = tok->encode("To be, or not to be", false);
  ASSERT_TRUE(all.isOk());
  std::vector<int64_t> joined;
  for (const auto &w : *plain) {
    EXPECT_LE(w.size(), 3u);
    joined.insert(joined.end(), w.begin(), w.end());
  }
  EXPECT_EQ(joined, *all);
}

TEST(TextData, WrongKindOfFileIsAnError) {
  auto tok = loadTokenizer(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare/tokenizer.json");
  ASSERT_TRUE(tok.isOk());
  EXPECT_TRUE(isTextDataFile("a/b.txt"));
  EXPECT_FALSE(isTextDataFile("a/b.ids"));
  EXPECT_FALSE(isTextDataFile("txt"));
  expectError(textWindows(*tok, "0 12 7\n5 6\n", "calib.txt", 8, 0, 0),
              {"calib.txt: holds only integers: it looks like a token-id file"});
  expectError(textWindows(*tok, "caf\xC3", "x.txt", 8, 0, 0), {"x.txt: byte 3 is not valid UTF-8"});
  expectError(textWindows(*tok, "", "x.txt", 8, 0, 0), {"x.txt: no text to tokenize"});
  expectError(textWindows(*tok, "abc", "x.txt", 1, 0, 0), {"windows of 1 ids hold no text"});
  TempDir dir;
  writeFile(dir.file("eval.dat"), "First Citizen:\n");
  expectError(readTokenIdLines(dir.file("eval.dat")),
              {"eval.dat:1: bad token 'First'", "a text file is tokenized only when its name ends in .txt"});
}
