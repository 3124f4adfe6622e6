// The text side of a model for the CLI: its tokenizer and chat template,
// from a checkpoint folder (tokenizer.json, tokenizer_config.json,
// chat_template.jinja) or from what an artifact embeds (the same files,
// stored by `qcc compile`), and the prompt rules the commands share.
#pragma once

#include "frontends/llama/ChatTemplate.h"
#include "frontends/llama/Tokenizer.h"
#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include <optional>
#include <string>
#include <vector>

namespace qcc::rt {
class Artifact;
}

namespace qcc::cli {

struct ModelText {
  std::string source;                 // "MODEL_DIR/" or "m.qcc: embedded " (prefixes file names in messages)
  std::optional<Tokenizer> tokenizer; // nullopt: the model has none
  std::string tokenizerConfigJson;    // "" when absent
  std::string chatTemplateJinja;      // "" when absent

  // The tokenizer, able to encode; else an error saying what is missing.
  Expected<const Tokenizer *> encoder() const;
  // The chat format; an error when the model has no (Llama 3) chat template.
  Expected<ChatFormat> chatFormat() const;
};

// A folder's files; missing ones are simply absent, malformed ones an error.
Expected<ModelText> modelTextFromDir(const std::string &dir);
// What the artifact embeds; `tokenizerOverride` (a tokenizer.json path, may
// be empty) replaces its tokenizer.
Expected<ModelText> modelTextFromArtifact(const rt::Artifact &artifact, const std::string &path,
                                          const std::string &tokenizerOverride = "");

// Encodes a prompt for generation: the tokenizer's post-processor decides
// special tokens (Llama 3: BOS first); when it adds no BOS and the model has
// a bos_token_id, BOS is put first anyway (a decoder is trained on sequences
// that start with it) unless `noBos`. Bytes that are not UTF-8 are reported
// on stderr (prefixed by `command`) and encoded as U+FFFD.
Expected<std::vector<int64_t>> encodePrompt(const Tokenizer &tokenizer, const std::string &text,
                                            const ModelConfig &config, bool noBos, const std::string &command);

bool isDirectory(const std::string &path);

// Writes text to stdout at once (streaming output).
void printNow(const std::string &text);

} // namespace qcc::cli
