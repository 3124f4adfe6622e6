// Parameters of a qcc module: the bytes behind `#qcc.param` attributes.
//
// A parameter names a tensor (`key`) in a `qcc.archive` of the module (a
// Hugging Face checkpoint folder, or a safetensors file a pass wrote) and the
// XXH3-128 hash of its bytes. Reading one opens the archive (mmap, once per
// process), finds the key and checks the hash (once per process and
// parameter); a mismatch is an error naming the archive and the key. Passes
// that rewrite tensors write them to a new archive of their own
// (ArchiveWriter: declared up front, streamed, atomic, content-addressed file
// name) and point the IR at it, so a module printed after any pass carries
// everything the next process needs.
#pragma once

#include "dialects/qcc/QccDialect.h"
#include "runtime/Tensor.h"
#include "runtime/formats/Formats.h"
#include "support/MappedFile.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qcc {

class Checkpoint;
class SafetensorsFile;
class SafetensorsWriter;

// The hash a dense parameter carries: XXH3-128 of its bytes.
std::string hashDenseParam(const TensorRef &t);
// The hash of a quantized parameter: its codes bytes, then its f32 scales,
// each preceded by its length.
std::string hashQuantizedParam(const void *codes, size_t codeBytes, const float *scales, size_t numScales);

// The hash of a linear that a compressed-tensors checkpoint stores quantized:
// its source tensors (CompressedLayout::sourceTensors), each by name, dtype,
// shape and bytes. `key` is the module ("model.layers.0.mlp.up_proj").
Expected<std::string> hashCompressedParam(const Checkpoint &checkpoint, const std::string &key);

// The safetensors key of a quantized parameter's scales.
std::string scalesKey(const std::string &key);

// An opened archive.
class Archive {
public:
  // A folder: a Hugging Face checkpoint (model.safetensors or an index and
  // its shards; dense or compressed-tensors); a file: one safetensors file.
  static Expected<std::unique_ptr<Archive>> open(const std::string &path);
  ~Archive();
  const TensorRef *find(const std::string &key) const;
  const std::string &path() const { return path_; }
  // Non-null for a checkpoint folder.
  const Checkpoint *checkpoint() const { return checkpoint_.get(); }

private:
  Archive() = default;
  std::string path_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<SafetensorsFile> file_;
};

// The path of archive `symbol` in the module of `from`; an error when absent.
Expected<std::string> archivePath(mlir::Operation *from, mlir::FlatSymbolRefAttr symbol);
// The archive (opened once per process and real path).
Expected<const Archive *> openArchive(const std::string &path);

// A dense parameter's tensor, hash checked; `expected` (the IR type) must
// agree in shape, and in element type for float tensors.
Expected<TensorRef> readDenseParam(mlir::Operation *from, ParamAttr param, mlir::RankedTensorType expected);
// A quantized parameter as a QuantizedLinear of `format` and [N, K] = `codes`'s shape:
// codes at `key` and fp32 scales at scalesKey(key) of a safetensors archive, or
// in a compressed-tensors checkpoint the linear `key` decoded exactly
// (frontends/compressed_tensors/Layout.h).
Expected<formats::QuantizedLinear> readQuantizedParam(mlir::Operation *from, ParamAttr param, FormatAttr format,
                                                      mlir::RankedTensorType codes);
// Records that (archive path, key) has `hash` (verified by whoever computed it,
// e.g. the importer), so that readers skip hashing it again in this process.
void markParamVerified(const std::string &archivePath, const std::string &key, const std::string &hash);

// fp32 values of a dense float tensor (F32 / BF16 / F16).
std::vector<float> tensorToFloat(const TensorRef &t);
// The element type of the IR for a checkpoint dtype (F32, BF16, F16).
mlir::Type elementTypeFor(mlir::MLIRContext *ctx, DType dtype);
formats::FormatSpec formatSpecOf(FormatAttr f);

// What a weight value holds, evaluated: a dense tensor (inline values and
// converted tensors are owned by `storage`), or quantized codes and scales.
struct WeightValue {
  std::string name;
  TensorRef dense;
  std::vector<uint8_t> storage;
  std::optional<formats::QuantizedLinear> quantized;
};
// Evaluates the op defining a weight operand: qcc.weight (its parameter or
// inline value), qcc.quantized_weight, or qcc.quantize_weight (round to
// nearest of its dense operand, computed now on every core).
Expected<WeightValue> evaluateWeight(mlir::Value weight);
// fp32 values [numel] of a dense weight value (qcc.weight).
Expected<std::vector<float>> readDenseWeight(mlir::Value weight);

// Files outside the tensor archives that the model carries (the importer
// records the tokenizer's, in the module attribute `qcc.tokenizer`: an array
// of {name, path, hash}), each checked against its XXH3-128 when opened.
struct RecordedFile {
  std::string name; // "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"
  std::string path;
  std::string hash;
};
Expected<std::vector<RecordedFile>> recordedTokenizerFiles(mlir::ModuleOp module);
// The file `name` of the record, or none when the module has no such file.
Expected<std::optional<RecordedFile>> recordedTokenizerFile(mlir::ModuleOp module, const std::string &name);
Expected<std::unique_ptr<MappedFile>> openRecordedFile(const RecordedFile &file);
// The attribute for `files` (what the importer sets).
mlir::ArrayAttr tokenizerFilesAttr(mlir::MLIRContext *context, const std::vector<RecordedFile> &files);

// Where passes write the archives they create: the pass option when given,
// else the module's `qcc.param_dir` attribute; an error naming both otherwise.
Expected<std::string> paramDirFor(mlir::ModuleOp module, const std::string &passOption, const std::string &pass);

// A new archive written by a pass: every tensor declared first, then written
// in that order (streamed), then committed to `<dir>/<prefix>-<hash>.safetensors`
// (named by the hash of its content, so that different contents never
// overwrite each other) and declared in the module as `qcc.archive @<symbol>`.
class ArchiveWriter {
public:
  struct Dense {
    std::string key;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
  };
  struct Quantized {
    std::string key;
    formats::Format format = formats::Format::INT8;
    int64_t outFeatures = 0, inFeatures = 0, groupSize = 0;
  };
  static Expected<std::unique_ptr<ArchiveWriter>> create(mlir::ModuleOp module, const std::string &dir,
                                                         const std::string &prefix, std::vector<Dense> dense,
                                                         std::vector<Quantized> quantized);
  ~ArchiveWriter();

  // The symbol the archive will have in the module.
  mlir::FlatSymbolRefAttr symbol() const { return symbol_; }
  // Writes the next declared tensor (dense ones first, in order, then the
  // quantized ones) and returns the parameter that names it.
  Expected<ParamAttr> writeDense(const std::string &key, const void *data, size_t bytes);
  Expected<ParamAttr> writeQuantized(const std::string &key, const formats::QuantizedLinear &q);
  // Commits the file and adds the qcc.archive op; the returned parameters are
  // valid from then on.
  Status finish();

private:
  ArchiveWriter() = default;
  mlir::ModuleOp module_;
  std::string dir_, prefix_, pendingPath_;
  mlir::FlatSymbolRefAttr symbol_;
  std::unique_ptr<SafetensorsWriter> writer_;
  std::unique_ptr<class ContentHasher> hasher_;
  std::vector<std::pair<std::string, std::string>> verified_; // key, hash
};

} // namespace qcc
