// Chat formats: a model's chat template (tokenizer_config.json's
// "chat_template", or chat_template.jinja) recognised as one of the Llama 3
// formats qcc renders natively. qcc does not run Jinja: a template that is
// not one of these is an error naming where it came from.
//
// Llama 3.1 (also 3.2 / 3.3; recognised by "Cutting Knowledge Date"):
//   BOS <|start_header_id|>system<|end_header_id|>\n\n
//   Cutting Knowledge Date: December 2023\nToday Date: DATE\n\n SYSTEM <|eot_id|>
//   then per message: <|start_header_id|>ROLE<|end_header_id|>\n\n CONTENT <|eot_id|>
//   and for a reply: <|start_header_id|>assistant<|end_header_id|>\n\n
//   The system block is always there (SYSTEM empty without a system message).
//   DATE is the template's date_string default ("26 Jul 2024" in Meta's), or
//   today's date ("%d %b %Y") when the template takes it from strftime_now.
// Llama 3.0 (the headers and <|eot_id|> without that preamble):
//   BOS, then every message (a system one too) as above.
// Contents are trimmed like Jinja's `trim` (Python's str.strip(): Unicode
// White_Space and U+001C..U+001F). The tool-calling branches of Meta's
// templates are not implemented.
#pragma once

#include "support/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

struct ChatMessage {
  std::string role; // "system", "user", "assistant", ...
  std::string content;
};

struct ChatFormat {
  enum class Kind { Llama31, Llama30 } kind = Kind::Llama31;
  std::string bosToken = "<|begin_of_text|>";
  std::string dateString = "26 Jul 2024"; // Llama31 only
  bool todaysDate = false;                // the template asks for today's date

  // What opens a conversation: BOS and the system block (Llama 3.1: always
  // there, `system` may be ""; Llama 3.0: a system message when `system` is
  // not empty).
  std::string prefix(const std::string &system) const;
  // One message: its header, trimmed content and <|eot_id|>.
  std::string message(const ChatMessage &m) const;
  // The header that asks the model for the assistant's reply.
  std::string generationPrompt() const;
  // A whole conversation, as transformers' apply_chat_template renders it.
  std::string render(const std::vector<ChatMessage> &messages, bool addGenerationPrompt) const;
};

// The chat template text a model folder's files carry: chat_template.jinja
// when present, else tokenizer_config.json's "chat_template" (a string, or a
// list of {name, template}: the one named "default"). nullopt: none.
// `tokenizerConfigJson` / `jinja` may be empty (file absent).
Expected<std::optional<std::string>> findChatTemplate(const std::string &tokenizerConfigJson,
                                                      const std::string &jinja, const std::string &source);
// tokenizer_config.json's bos_token (a string or {"content": ...}); nullopt when absent.
Expected<std::optional<std::string>> configBosToken(const std::string &tokenizerConfigJson, const std::string &source);

// Recognises the format of `templateText` (see above); errors name `source`.
Expected<ChatFormat> recognizeChatTemplate(const std::string &templateText, const std::string &source);

// Python's str.strip() (what Jinja's trim filter does).
std::string trimLikePython(std::string_view text);

// Today's date as Llama 3.2's template writes it ("%d %b %Y", e.g. "02 Dec 2025").
std::string todayDateString();

} // namespace qcc
