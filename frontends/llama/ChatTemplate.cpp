#include "frontends/llama/ChatTemplate.h"

#include "frontends/llama/Regex.h"
#include "frontends/llama/StrictJson.h"

#include <ctime>

namespace qcc {

namespace {

const char kHeaderStart[] = "<|start_header_id|>";
const char kHeaderEnd[] = "<|end_header_id|>\n\n";
const char kEot[] = "<|eot_id|>";

// Python's str.isspace(): White_Space plus the four information separators.
const Regex &pythonSpace() {
  static const Regex r = [] {
    auto compiled = Regex::compileNative("[\\p{White_Space}\\x{1C}-\\x{1F}]", "python whitespace");
    return compiled.isOk() ? std::move(*compiled) : Regex();
  }();
  return r;
}

bool spaceAt(std::string_view s, size_t i) {
  auto m = pythonSpace().matchesAt(s, i);
  return m.isOk() && *m;
}

} // namespace

std::string trimLikePython(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end && spaceAt(s, begin)) {
    uint8_t b = static_cast<uint8_t>(s[begin]);
    begin += b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    if (!spaceAt(s, start)) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::string todayDateString() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  static const char *const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d %s %04d", local.tm_mday, kMonths[local.tm_mon], local.tm_year + 1900);
  return buf;
}

std::string ChatFormat::prefix(const std::string &system) const {
  if (kind == Kind::Llama30) return system.empty() ? bosToken : bosToken + message({"system", system});
  return bosToken + kHeaderStart + "system" + kHeaderEnd + "Cutting Knowledge Date: December 2023\nToday Date: " +
         (todaysDate ? todayDateString() : dateString) + "\n\n" + trimLikePython(system) + kEot;
}

std::string ChatFormat::message(const ChatMessage &m) const {
  return kHeaderStart + m.role + kHeaderEnd + trimLikePython(m.content) + kEot;
}

std::string ChatFormat::generationPrompt() const { return std::string(kHeaderStart) + "assistant" + kHeaderEnd; }

std::string ChatFormat::render(const std::vector<ChatMessage> &messages, bool addGenerationPrompt) const {
  size_t first = 0;
  std::string system;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  // Llama 3.0 renders a system message like any other, even an empty one.
  std::string out = kind == Kind::Llama31 || first == 0 ? prefix(system) : bosToken + message(messages[0]);
  for (size_t i = first; i < messages.size(); ++i) out += message(messages[i]);
  if (addGenerationPrompt) out += generationPrompt();
  return out;
}

Expected<std::optional<std::string>> findChatTemplate(const std::string &configJson, const std::string &jinja,
                                                      const std::string &source) {
  if (!jinja.empty()) return std::optional<std::string>(jinja);
  if (configJson.empty()) return std::optional<std::string>();
  auto root = json::parse(configJson, source + "tokenizer_config.json");
  if (!root) return root.status();
  if (!root->isObject()) return Status::error(source + "tokenizer_config.json: top level is not an object");
  const json::Value *t = root->get("chat_template");
  if (!t || t->isNull()) return std::optional<std::string>();
  if (t->isString()) return std::optional<std::string>(t->asString());
  if (t->isArray()) {
    for (const json::Value &e : t->elements()) {
      const json::Value *name = e.isObject() ? e.get("name") : nullptr;
      const json::Value *text = e.isObject() ? e.get("template") : nullptr;
      if (name && name->isString() && name->asString() == "default" && text && text->isString())
        return std::optional<std::string>(text->asString());
    }
    return Status::error(source + "tokenizer_config.json: chat_template lists no template named 'default'");
  }
  return Status::error(source + "tokenizer_config.json: chat_template is neither a string nor a list");
}

Expected<std::optional<std::string>> configBosToken(const std::string &configJson, const std::string &source) {
  if (configJson.empty()) return std::optional<std::string>();
  auto root = json::parse(configJson, source + "tokenizer_config.json");
  if (!root) return root.status();
  const json::Value *bos = root->isObject() ? root->get("bos_token") : nullptr;
  if (!bos || bos->isNull()) return std::optional<std::string>();
  if (bos->isString()) return std::optional<std::string>(bos->asString());
  const json::Value *content = bos->isObject() ? bos->get("content") : nullptr;
  if (content && content->isString()) return std::optional<std::string>(content->asString());
  return Status::error(source + "tokenizer_config.json: bos_token is neither a string nor {\"content\": ...}");
}

Expected<ChatFormat> recognizeChatTemplate(const std::string &t, const std::string &source) {
  auto has = [&](const char *s) { return t.find(s) != std::string::npos; };
  if (!has("<|start_header_id|>") || !has("<|end_header_id|>") || !has("<|eot_id|>"))
    return Status::error(source + ": the chat template is not a Llama 3 chat format (no <|start_header_id|>, "
                                  "<|end_header_id|> and <|eot_id|>); qcc renders the Llama 3 formats natively "
                                  "and does not run other Jinja templates");
  ChatFormat f;
  if (!has("Cutting Knowledge Date")) {
    f.kind = ChatFormat::Kind::Llama30;
    return f;
  }
  f.kind = ChatFormat::Kind::Llama31;
  f.todaysDate = has("strftime_now");
  // The template's own default: {%- set date_string = "26 Jul 2024" %}.
  for (const char *key : {"set date_string = \"", "set date_string = '"}) {
    size_t at = t.find(key);
    if (at == std::string::npos) continue;
    at += std::char_traits<char>::length(key);
    size_t end = t.find(key[std::char_traits<char>::length(key) - 1], at);
    if (end != std::string::npos) f.dateString = t.substr(at, end - at);
    break;
  }
  return f;
}

} // namespace qcc
