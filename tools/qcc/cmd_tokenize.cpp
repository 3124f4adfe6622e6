// qcc tokenize MODEL_DIR|model.qcc (--text "TEXT" | --file FILE | --ids "1 2 3")
//               [--no-special-tokens] [--skip-special]
// Text -> ids (one line) or ids -> text, with the model folder's
// tokenizer.json or the one the artifact embeds.
#include "tools/qcc/Command.h"
#include "tools/qcc/ModelText.h"

#include "frontends/llama/TokenIds.h"
#include "frontends/llama/Utf8.h"
#include "runtime/lib/Artifact.h"
#include "support/MappedFile.h"

#include <cstdio>

namespace {

const char *kUsage =
    "usage: qcc tokenize MODEL_DIR|MODEL.qcc (--text \"TEXT\" | --file FILE | --ids \"1 2 3\")\n"
    "                    [--no-special-tokens] [--skip-special]\n"
    "  --text / --file: prints the ids of the text (a file's whole contents) on one\n"
    "  line, with the tokenizer's special tokens (Llama 3: BOS first) unless\n"
    "  --no-special-tokens. Special tokens written in the text (<|eot_id|>) are\n"
    "  recognised. Bytes that are not UTF-8 are encoded as U+FFFD, with a warning.\n"
    "  --ids: prints the text the ids decode to; --skip-special leaves special\n"
    "  tokens out.\n"
    "  The tokenizer is MODEL_DIR/tokenizer.json, or the one MODEL.qcc embeds.\n";

int runTokenize(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("tokenize", m); };
  std::string model, input, inputKind;
  bool noSpecial = false, skipSpecial = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--no-special-tokens") noSpecial = true;
    else if (a == "--skip-special") skipSpecial = true;
    else if (a == "--text" || a == "--file" || a == "--ids") {
      if (i + 1 >= args.size()) return fail("option " + a + " needs a value");
      if (!inputKind.empty()) return fail("give one of --text, --file and --ids, once");
      inputKind = a;
      input = args[++i];
    } else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (model.empty()) model = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (model.empty() || inputKind.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (inputKind == "--ids" && noSpecial) return fail("--no-special-tokens applies to --text and --file");
  if (inputKind != "--ids" && skipSpecial) return fail("--skip-special applies to --ids");

  std::unique_ptr<qcc::rt::Artifact> artifact;
  auto open = [&]() -> qcc::Expected<qcc::cli::ModelText> {
    if (qcc::cli::isDirectory(model)) return qcc::cli::modelTextFromDir(model);
    auto a = qcc::rt::Artifact::open(model);
    if (!a) return a.status();
    artifact = std::move(*a);
    return qcc::cli::modelTextFromArtifact(*artifact, model);
  };
  auto text = open();
  if (!text) return fail(text.message());

  if (inputKind == "--ids") {
    if (!text->tokenizer) return fail(text->source + "tokenizer.json is missing");
    auto ids = qcc::parseTokenIds(input, "--ids");
    if (!ids) return fail(ids.message());
    auto decoded = text->tokenizer->decodeChecked(*ids, skipSpecial);
    if (!decoded) return fail("--ids: " + decoded.message());
    std::printf("%s\n", decoded->c_str());
    return 0;
  }
  auto encoder = text->encoder();
  if (!encoder) return fail(encoder.message());
  if (inputKind == "--file") {
    auto f = qcc::MappedFile::open(input);
    if (!f) return fail(f.message());
    input.assign(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
  }
  if (size_t bad = qcc::utf8::firstInvalid(input); bad != std::string::npos)
    std::fprintf(stderr, "qcc tokenize: warning: byte %zu of the text is not valid UTF-8; it is encoded as U+FFFD\n",
                 bad);
  auto ids = (*encoder)->encode(input, !noSpecial);
  if (!ids) return fail(ids.message());
  std::string line;
  for (int64_t id : *ids) line += (line.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", line.c_str());
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(tokenize, "tokenize", "text to token ids and back, with a model's tokenizer", runTokenize);
