#include "tools/qcc/ModelText.h"

#include "frontends/llama/Utf8.h"
#include "runtime/lib/Artifact.h"
#include "support/MappedFile.h"

#include <cstdio>
#include <sys/stat.h>

namespace qcc::cli {

namespace {

bool isFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Expected<std::string> readWhole(const std::string &path) {
  auto f = MappedFile::open(path);
  if (!f) return f.status();
  return std::string(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
}

std::string embedded(const rt::Artifact &a, const std::string &name) {
  const artifact::LoadedTensor *t = a.file().find(name);
  if (!t || t->decl.role != artifact::TensorRole::Tokenizer) return std::string();
  return std::string(reinterpret_cast<const char *>(t->data), t->dataRange.size);
}

} // namespace

Expected<const Tokenizer *> ModelText::encoder() const {
  if (!tokenizer)
    return Status::error(source + "tokenizer.json is missing: text needs the model's tokenizer (or give token ids)");
  if (!tokenizer->canEncode()) return tokenizer->encoderStatus();
  return &*tokenizer;
}

Expected<ChatFormat> ModelText::chatFormat() const {
  auto text = findChatTemplate(tokenizerConfigJson, chatTemplateJinja, source);
  if (!text) return text.status();
  if (!text->has_value())
    return Status::error(source + "tokenizer_config.json has no chat template: qcc chat needs an Instruct model "
                                  "(a Llama 3 chat template)");
  auto format = recognizeChatTemplate(**text, source + "chat template");
  if (!format) return format.status();
  auto bos = configBosToken(tokenizerConfigJson, source);
  if (!bos) return bos.status();
  if (bos->has_value()) format->bosToken = **bos;
  if (tokenizer)
    for (const char *special : {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"})
      if (!tokenizer->idOf(special))
        return Status::error(source + "tokenizer.json has no token " + special + " for the chat format");
  return format;
}

Expected<ModelText> modelTextFromDir(const std::string &dir) {
  ModelText m;
  m.source = dir + (dir.empty() || dir.back() == '/' ? "" : "/");
  if (isFile(m.source + "tokenizer.json")) {
    auto t = loadTokenizer(m.source + "tokenizer.json");
    if (!t) return t.status();
    m.tokenizer = std::move(*t);
  }
  for (auto [name, out] : {std::pair<const char *, std::string *>{"tokenizer_config.json", &m.tokenizerConfigJson},
                           {"chat_template.jinja", &m.chatTemplateJinja}})
    if (isFile(m.source + name)) {
      auto text = readWhole(m.source + name);
      if (!text) return text.status();
      *out = std::move(*text);
    }
  return m;
}

Expected<ModelText> modelTextFromArtifact(const rt::Artifact &artifact, const std::string &path,
                                          const std::string &tokenizerOverride) {
  ModelText m;
  m.source = path + ": embedded ";
  if (!tokenizerOverride.empty()) {
    auto t = loadTokenizer(tokenizerOverride);
    if (!t) return t.status();
    m.tokenizer = std::move(*t);
  } else if (std::string json = embedded(artifact, "tokenizer.json"); !json.empty()) {
    auto t = parseTokenizer(json, m.source + "tokenizer.json");
    if (!t) return t.status();
    m.tokenizer = std::move(*t);
  }
  m.tokenizerConfigJson = embedded(artifact, "tokenizer_config.json");
  m.chatTemplateJinja = embedded(artifact, "chat_template.jinja");
  return m;
}

Expected<std::vector<int64_t>> encodePrompt(const Tokenizer &tokenizer, const std::string &text,
                                            const ModelConfig &config, bool noBos, const std::string &command) {
  if (size_t bad = utf8::firstInvalid(text); bad != std::string::npos)
    std::fprintf(stderr, "qcc %s: warning: byte %zu of the prompt is not valid UTF-8; it is encoded as U+FFFD\n",
                 command.c_str(), bad);
  auto ids = tokenizer.encode(text, /*addSpecialTokens=*/!noBos);
  if (!ids) return ids.status();
  if (!noBos && config.bosTokenId >= 0 && (ids->empty() || ids->front() != config.bosTokenId) &&
      tokenizer.prefixIds().empty())
    ids->insert(ids->begin(), config.bosTokenId);
  for (int64_t id : *ids)
    if (id >= config.vocabSize)
      return Status::error("the prompt encodes to id " + std::to_string(id) + ", outside the model's vocabulary [0, " +
                           std::to_string(config.vocabSize) + ")");
  if (ids->empty()) return Status::error("the prompt encodes to no tokens");
  return ids;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void printNow(const std::string &text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

} // namespace qcc::cli
