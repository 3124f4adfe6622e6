#include "passes/Params.h"

#include "frontends/compressed_tensors/Layout.h"
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Safetensors.h"
#include "quant/Rtn.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace qcc {

using namespace mlir;

//===----------------------------------------------------------------------===//
// Hashes
//===----------------------------------------------------------------------===//

std::string hashDenseParam(const TensorRef &t) { return contentHash(t.data, t.byteSize()); }

std::string hashQuantizedParam(const void *codes, size_t codeBytes, const float *scales, size_t numScales) {
  ContentHasher h;
  h.updateU64(codeBytes);
  h.update(codes, codeBytes);
  h.updateU64(numScales * 4);
  h.update(scales, numScales * 4); // little-endian host
  return h.hex();
}

std::string scalesKey(const std::string &key) { return key + ".scales"; }

Expected<std::string> hashCompressedParam(const Checkpoint &checkpoint, const std::string &key) {
  const compressed_tensors::CompressedLayout *ct = compressed_tensors::compressedLayout(checkpoint);
  if (!ct || !ct->isQuantized(key))
    return Status::error(checkpoint.directory() + ": '" + key + "' is not a quantized linear of the checkpoint");
  ContentHasher h;
  for (const std::string &name : ct->sourceTensors(checkpoint, key)) {
    const TensorRef *t = checkpoint.find(name);
    if (!t) return Status::error(checkpoint.directory() + ": no tensor '" + name + "'");
    h.updateString(name);
    h.updateString(dtypeName(t->dtype));
    h.updateU64(t->shape.size());
    for (int64_t d : t->shape) h.updateU64(static_cast<uint64_t>(d));
    h.updateU64(t->byteSize());
    h.update(t->data, t->byteSize());
  }
  return h.hex();
}

//===----------------------------------------------------------------------===//
// Archives
//===----------------------------------------------------------------------===//

Archive::~Archive() = default;

Expected<std::unique_ptr<Archive>> Archive::open(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::error(path + ": cannot open parameter archive: " + std::strerror(errno));
  std::unique_ptr<Archive> a(new Archive());
  a->path_ = path;
  if (S_ISDIR(st.st_mode)) {
    auto ck = compressed_tensors::openCheckpoint(path);
    if (!ck) return ck.status();
    a->checkpoint_ = std::move(*ck);
  } else {
    auto f = SafetensorsFile::open(path);
    if (!f) return f.status();
    a->file_ = std::move(*f);
  }
  return a;
}

const TensorRef *Archive::find(const std::string &key) const {
  return checkpoint_ ? checkpoint_->find(key) : file_->find(key);
}

namespace {
struct ParamCache {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Archive>> archives; // by real path
  std::set<std::string> verified;                            // path \0 key \0 hash
};
ParamCache &cache() {
  static ParamCache c;
  return c;
}
std::string realPathOf(const std::string &path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}
std::string verifiedKey(const std::string &path, const std::string &key, const std::string &hash) {
  return path + std::string(1, '\0') + key + std::string(1, '\0') + hash;
}
} // namespace

Expected<const Archive *> openArchive(const std::string &path) {
  const std::string real = realPathOf(path);
  ParamCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.archives.find(real);
  if (it != c.archives.end()) return it->second.get();
  auto a = Archive::open(real);
  if (!a) return a.status();
  const Archive *p = a->get();
  c.archives[real] = std::move(*a);
  return p;
}

void markParamVerified(const std::string &archivePath, const std::string &key, const std::string &hash) {
  ParamCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.verified.insert(verifiedKey(realPathOf(archivePath), key, hash));
}

static bool isVerified(const std::string &path, const std::string &key, const std::string &hash) {
  ParamCache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.verified.count(verifiedKey(realPathOf(path), key, hash)) != 0;
}

Expected<std::string> archivePath(Operation *from, FlatSymbolRefAttr symbol) {
  auto module = from->getParentOfType<ModuleOp>();
  if (!module) return Status::error("the op is not inside a module");
  auto archive = dyn_cast_or_null<ArchiveOp>(SymbolTable::lookupSymbolIn(module, symbol.getAttr()));
  if (!archive) return Status::error("no qcc.archive " + symbol.getValue().str() + " in the module");
  return archive.getPath().str();
}

static std::string shapeText(ArrayRef<int64_t> s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

static Expected<std::pair<const Archive *, std::string>> resolve(Operation *from, ParamAttr param) {
  auto path = archivePath(from, param.getArchive());
  if (!path) return path.status();
  auto archive = openArchive(*path);
  if (!archive) return archive.status();
  return std::make_pair(*archive, *path);
}

static Status hashMismatch(const std::string &path, const std::string &key, const std::string &want,
                           const std::string &got) {
  return Status::error(path + ": parameter '" + key + "' has hash " + got + " but the IR expects " + want +
                       " (the archive changed since the IR was written)");
}

Expected<TensorRef> readDenseParam(Operation *from, ParamAttr param, RankedTensorType expected) {
  auto r = resolve(from, param);
  if (!r) return r.status();
  const auto &[archive, path] = *r;
  const std::string key = param.getKey().str();
  const TensorRef *t = archive->find(key);
  if (!t) return Status::error(path + ": no parameter '" + key + "'");
  if (ArrayRef<int64_t>(t->shape) != expected.getShape())
    return Status::error(path + ": parameter '" + key + "' has shape " + shapeText(t->shape) + ", the IR says " +
                         shapeText(expected.getShape()));
  Type elem = elementTypeFor(from->getContext(), t->dtype);
  if (!elem || elem != expected.getElementType())
    return Status::error(path + ": parameter '" + key + "' has dtype " + dtypeName(t->dtype) +
                         " but the IR's element type differs");
  const std::string want = param.getHash().str();
  if (!isVerified(path, key, want)) {
    std::string got = hashDenseParam(*t);
    if (got != want) return hashMismatch(path, key, want, got);
    markParamVerified(path, key, want);
  }
  return *t;
}

formats::FormatSpec formatSpecOf(FormatAttr f) {
  switch (f.getKind()) {
  case FormatKind::fp8: return {formats::Format::FP8, 0};
  case FormatKind::int8: return {formats::Format::INT8, 0};
  case FormatKind::w4a16: return {formats::Format::W4A16, static_cast<int>(f.getGroupSize())};
  case FormatKind::bf16: break;
  }
  return {formats::Format::BF16, 0};
}

Expected<formats::QuantizedLinear> readQuantizedParam(Operation *from, ParamAttr param, FormatAttr format,
                                                      RankedTensorType codesType) {
  auto r = resolve(from, param);
  if (!r) return r.status();
  const auto &[archive, path] = *r;
  const std::string key = param.getKey().str();
  const std::string want = param.getHash().str();
  formats::FormatSpec spec = formatSpecOf(format);
  // A linear a compressed-tensors checkpoint stores quantized: decoded exactly.
  if (const Checkpoint *ck = archive->checkpoint()) {
    const compressed_tensors::CompressedLayout *ct = compressed_tensors::compressedLayout(*ck);
    if (ct && ct->isQuantized(key)) {
      if (!isVerified(path, key, want)) {
        auto got = hashCompressedParam(*ck, key);
        if (!got) return got.status();
        if (*got != want) return hashMismatch(path, key, want, *got);
        markParamVerified(path, key, want);
      }
      auto q = ct->decode(*ck, key);
      if (!q) return q.status();
      if (q->format != spec.format || (spec.format == formats::Format::W4A16 && q->groupSize != spec.groupSize) ||
          q->outFeatures != codesType.getDimSize(0) || q->inFeatures != codesType.getDimSize(1))
        return Status::error(path + ": '" + key + "' is stored as " + formats::formatSpecName({q->format, static_cast<int>(q->groupSize)}) +
                             " [" + std::to_string(q->outFeatures) + ", " + std::to_string(q->inFeatures) +
                             "], not what the IR says");
      return q;
    }
  }
  const TensorRef *codes = archive->find(key), *scales = archive->find(scalesKey(key));
  if (!codes || !scales) return Status::error(path + ": no quantized parameter '" + key + "' (codes and scales)");
  formats::QuantizedLinear q;
  q.format = spec.format;
  q.outFeatures = codesType.getDimSize(0);
  q.inFeatures = codesType.getDimSize(1);
  q.groupSize = spec.format == formats::Format::W4A16 ? spec.groupSize : 0;
  if (scales->dtype != DType::F32)
    return Status::error(path + ": scales of '" + key + "' have dtype " + dtypeName(scales->dtype) + ", not F32");
  q.weights.assign(static_cast<const uint8_t *>(codes->data),
                   static_cast<const uint8_t *>(codes->data) + codes->byteSize());
  q.scales.resize(scales->byteSize() / 4);
  if (!q.scales.empty()) std::memcpy(q.scales.data(), scales->data, scales->byteSize());
  if (!isVerified(path, key, want)) {
    std::string got = hashQuantizedParam(codes->data, codes->byteSize(), q.scales.data(), q.scales.size());
    if (got != want) return hashMismatch(path, key, want, got);
    markParamVerified(path, key, want);
  }
  QCC_RETURN_IF_ERROR(formats::validate(q).withContext(path + ": parameter '" + key + "'"));
  return q;
}

//===----------------------------------------------------------------------===//
// Weight values
//===----------------------------------------------------------------------===//

std::vector<float> tensorToFloat(const TensorRef &t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
    case DType::F32: std::memcpy(&out[i], p + 4 * i, 4); break;
    case DType::BF16: {
      uint16_t b;
      std::memcpy(&b, p + 2 * i, 2);
      out[i] = formats::bf16ToFloat(b);
      break;
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = formats::f16ToFloat(h);
      break;
    }
    default: out[i] = 0; break; // callers check the dtype
    }
  }
  return out;
}

Type elementTypeFor(MLIRContext *ctx, DType dtype) {
  Builder b(ctx);
  switch (dtype) {
  case DType::F32: return b.getF32Type();
  case DType::BF16: return b.getBF16Type();
  case DType::F16: return b.getF16Type();
  default: return {};
  }
}

// Inline values (lit tests) as F32 bytes.
static WeightValue inlineDense(const std::string &name, ElementsAttr value) {
  WeightValue w;
  w.name = name;
  auto dense = cast<DenseElementsAttr>(value);
  std::vector<float> v;
  for (APFloat x : dense.getValues<APFloat>()) v.push_back(static_cast<float>(x.convertToDouble()));
  w.storage.resize(v.size() * 4);
  if (!v.empty()) std::memcpy(w.storage.data(), v.data(), w.storage.size());
  w.dense.dtype = DType::F32;
  auto shape = cast<ShapedType>(value.getType()).getShape();
  w.dense.shape.assign(shape.begin(), shape.end());
  w.dense.data = w.storage.data();
  return w;
}

// Inline codes and scales (lit tests).
static Expected<formats::QuantizedLinear> inlineQuantized(QuantizedWeightOp op) {
  formats::QuantizedLinear q;
  formats::FormatSpec spec = formatSpecOf(op.getFormat());
  q.format = spec.format;
  RankedTensorType t = op.getType();
  q.outFeatures = t.getDimSize(0);
  q.inFeatures = t.getDimSize(1);
  q.groupSize = spec.format == formats::Format::W4A16 ? spec.groupSize : 0;
  auto codes = cast<DenseElementsAttr>(op.getCodesAttr());
  if (spec.format == formats::Format::FP8) {
    for (APFloat c : codes.getValues<APFloat>()) q.weights.push_back(uint8_t(c.bitcastToAPInt().getZExtValue()));
  } else {
    std::vector<int8_t> ints;
    for (APInt c : codes.getValues<APInt>()) ints.push_back(int8_t(c.getSExtValue()));
    if (spec.format == formats::Format::W4A16) {
      auto packed = formats::packInt4(ints.data(), q.outFeatures, q.inFeatures);
      if (!packed) return packed.status();
      q.weights = std::move(*packed);
    } else {
      q.weights.assign(ints.begin(), ints.end());
    }
  }
  for (APFloat s : cast<DenseElementsAttr>(op.getScalesAttr()).getValues<APFloat>())
    q.scales.push_back(static_cast<float>(s.convertToDouble()));
  QCC_RETURN_IF_ERROR(formats::validate(q).withContext(op.getName().str()));
  return q;
}

// Round to nearest of W[N, K], rows split over the cores (every rule is per
// row), concatenated: the result does not depend on the split.
static Expected<formats::QuantizedLinear> quantizeRowsInParallel(const TensorRef &w, const formats::FormatSpec &spec,
                                                                 bool mseClip) {
  const int64_t N = w.shape[0], K = w.shape[1];
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(std::thread::hardware_concurrency(), N / 64));
  const int64_t rowsPer = (N + threads - 1) / threads;
  std::vector<formats::QuantizedLinear> parts(static_cast<size_t>(threads));
  std::vector<Status> status(static_cast<size_t>(threads), Status::ok());
  const size_t elem = dtypeSize(w.dtype);
  auto work = [&](int64_t t) {
    const int64_t r0 = t * rowsPer, r1 = std::min(N, r0 + rowsPer);
    if (r0 >= r1) return;
    TensorRef rows{w.dtype, {r1 - r0, K}, static_cast<const uint8_t *>(w.data) + size_t(r0 * K) * elem};
    std::vector<float> values = tensorToFloat(rows); // [r1 - r0, K]
    auto q = quant::quantizeRtn(values.data(), r1 - r0, K, spec, mseClip);
    if (!q) status[size_t(t)] = q.status();
    else parts[size_t(t)] = std::move(*q);
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread &th : pool) th.join();
  for (const Status &st : status)
    if (!st) return st;
  formats::QuantizedLinear out = std::move(parts[0]);
  out.outFeatures = N;
  for (size_t t = 1; t < parts.size(); ++t) {
    out.weights.insert(out.weights.end(), parts[t].weights.begin(), parts[t].weights.end());
    out.scales.insert(out.scales.end(), parts[t].scales.begin(), parts[t].scales.end());
  }
  return out;
}

Expected<WeightValue> evaluateWeight(Value weight) {
  Operation *def = weight.getDefiningOp();
  if (auto w = dyn_cast_or_null<WeightOp>(def)) {
    if (auto value = w.getValueAttr()) return inlineDense(w.getName().str(), value);
    auto t = readDenseParam(w, w.getParamAttr(), cast<RankedTensorType>(w.getType()));
    if (!t) return t.status();
    WeightValue v;
    v.name = w.getName().str();
    v.dense = *t;
    return v;
  }
  if (auto q = dyn_cast_or_null<QuantizedWeightOp>(def)) {
    WeightValue v;
    v.name = q.getName().str();
    auto ql = q.getCodesAttr() ? inlineQuantized(q) : readQuantizedParam(q, q.getParamAttr(), q.getFormat(), q.getType());
    if (!ql) return ql.status();
    v.quantized = std::move(*ql);
    return v;
  }
  if (auto r = dyn_cast_or_null<QuantizeWeightOp>(def)) {
    auto source = evaluateWeight(r.getWeight());
    if (!source) return source.status();
    if (source->quantized) return Status::error(r.getName().str() + ": quantize_weight of a quantized weight");
    if (source->dense.shape.size() != 2) return Status::error(r.getName().str() + ": not a 2-d weight");
    auto q = quantizeRowsInParallel(source->dense, formatSpecOf(r.getFormat()), r.getMseClip());
    if (!q) return q.status().withContext(r.getName().str());
    // The dense source was read once for this; its mapped pages need not stay
    // resident (inline values live on the heap instead).
    if (source->storage.empty()) releasePages(source->dense.data, source->dense.byteSize());
    WeightValue v;
    v.name = r.getName().str();
    v.quantized = std::move(*q);
    return v;
  }
  return Status::error("a weight operand is not defined by qcc.weight, qcc.quantized_weight or qcc.quantize_weight");
}

Expected<std::vector<float>> readDenseWeight(Value weight) {
  auto w = evaluateWeight(weight);
  if (!w) return w.status();
  if (w->quantized) return Status::error(w->name + ": a dense weight was expected");
  return tensorToFloat(w->dense);
}

//===----------------------------------------------------------------------===//
// Writing archives
//===----------------------------------------------------------------------===//

Expected<std::string> paramDirFor(ModuleOp module, const std::string &passOption, const std::string &pass) {
  std::string dir = passOption;
  if (dir.empty())
    if (auto attr = module->getAttrOfType<StringAttr>("qcc.param_dir")) dir = attr.str();
  if (dir.empty())
    return Status::error(pass + " writes the tensors it rewrites to a parameter archive: give the pass option "
                                "param-dir=DIR or set the module attribute qcc.param_dir");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(dir.c_str(), 0755) != 0)
      return Status::error(dir + ": cannot create the parameter folder: " + std::strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::error(dir + ": the parameter folder is not a folder");
  }
  return realPathOf(dir);
}

ArchiveWriter::~ArchiveWriter() = default;

Expected<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(ModuleOp module, const std::string &dir,
                                                               const std::string &prefix, std::vector<Dense> dense,
                                                               std::vector<Quantized> quantized) {
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter());
  w->module_ = module;
  w->dir_ = dir;
  w->prefix_ = prefix;
  // A symbol not yet in the module: @prefix, @prefix_1, ...
  std::string sym = prefix;
  for (char &c : sym)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  for (int i = 1; SymbolTable::lookupSymbolIn(module, sym); ++i) sym = prefix + "_" + std::to_string(i);
  w->symbol_ = FlatSymbolRefAttr::get(module.getContext(), sym);

  std::vector<SafetensorsWriter::Decl> decls;
  for (const Dense &d : dense) decls.push_back({d.key, d.dtype, d.shape});
  for (const Quantized &q : quantized) {
    std::vector<int64_t> codeShape = {q.outFeatures,
                                      q.format == formats::Format::W4A16 ? q.inFeatures / 2 : q.inFeatures};
    std::vector<int64_t> scaleShape = {q.outFeatures};
    if (q.format == formats::Format::W4A16) scaleShape.push_back(q.inFeatures / q.groupSize);
    decls.push_back({q.key, q.format == formats::Format::INT8 ? DType::I8
                           : q.format == formats::Format::FP8 ? DType::F8E4M3
                                                              : DType::U8,
                     codeShape});
    decls.push_back({scalesKey(q.key), DType::F32, scaleShape});
  }
  w->pendingPath_ = dir + "/." + prefix + ".pending-" + std::to_string(::getpid()) + ".safetensors";
  auto writer = SafetensorsWriter::create(w->pendingPath_, std::move(decls), {{"format", "qcc-params"}});
  if (!writer) return writer.status();
  w->writer_ = std::move(*writer);
  w->hasher_ = std::make_unique<ContentHasher>();
  return w;
}

Expected<ParamAttr> ArchiveWriter::writeDense(const std::string &key, const void *data, size_t bytes) {
  QCC_RETURN_IF_ERROR(writer_->write(key, data, bytes));
  hasher_->update(data, bytes);
  std::string hash = contentHash(data, bytes);
  verified_.push_back({key, hash});
  return ParamAttr::get(module_.getContext(), symbol_, key, hash);
}

Expected<ParamAttr> ArchiveWriter::writeQuantized(const std::string &key, const formats::QuantizedLinear &q) {
  QCC_RETURN_IF_ERROR(writer_->write(key, q.weights.data(), q.weights.size()));
  QCC_RETURN_IF_ERROR(writer_->write(scalesKey(key), q.scales.data(), q.scales.size() * 4));
  hasher_->update(q.weights.data(), q.weights.size());
  hasher_->update(q.scales.data(), q.scales.size() * 4);
  std::string hash = hashQuantizedParam(q.weights.data(), q.weights.size(), q.scales.data(), q.scales.size());
  verified_.push_back({key, hash});
  return ParamAttr::get(module_.getContext(), symbol_, key, hash);
}

Status ArchiveWriter::finish() {
  QCC_RETURN_IF_ERROR(writer_->finish());
  const std::string path = dir_ + "/" + prefix_ + "-" + hasher_->hex().substr(0, 16) + ".safetensors";
  if (::rename(pendingPath_.c_str(), path.c_str()) != 0) {
    Status s = Status::error(path + ": cannot commit the parameter archive: " + std::strerror(errno));
    ::unlink(pendingPath_.c_str());
    return s;
  }
  for (const auto &[key, hash] : verified_) markParamVerified(path, key, hash);
  OpBuilder b(module_.getContext());
  b.setInsertionPointToStart(module_.getBody());
  // After the archives already there, before everything else.
  for (Operation &op : *module_.getBody())
    if (isa<ArchiveOp>(op)) b.setInsertionPointAfter(&op);
  ArchiveOp::create(b, module_.getLoc(), symbol_.getAttr(), b.getStringAttr(path));
  return Status::ok();
}

} // namespace qcc

namespace qcc {

Expected<std::vector<RecordedFile>> recordedTokenizerFiles(ModuleOp module) {
  std::vector<RecordedFile> out;
  auto files = module->getAttrOfType<ArrayAttr>("qcc.tokenizer");
  if (!files) return out;
  for (Attribute a : files) {
    auto dict = dyn_cast<DictionaryAttr>(a);
    auto name = dict ? dict.getAs<StringAttr>("name") : StringAttr();
    auto path = dict ? dict.getAs<StringAttr>("path") : StringAttr();
    auto hash = dict ? dict.getAs<StringAttr>("hash") : StringAttr();
    if (!name || !path || !hash || name.getValue().empty())
      return Status::error("malformed qcc.tokenizer attribute (each entry needs a name, a path and a hash)");
    out.push_back({name.str(), path.str(), hash.str()});
  }
  return out;
}

Expected<std::optional<RecordedFile>> recordedTokenizerFile(ModuleOp module, const std::string &name) {
  auto files = recordedTokenizerFiles(module);
  if (!files) return files.status();
  for (const RecordedFile &f : *files)
    if (f.name == name) return std::optional<RecordedFile>(f);
  return std::optional<RecordedFile>();
}

Expected<std::unique_ptr<MappedFile>> openRecordedFile(const RecordedFile &file) {
  auto mapped = MappedFile::open(file.path);
  if (!mapped) return mapped.status();
  if (contentHash((*mapped)->data(), (*mapped)->size()) != file.hash)
    return Status::error(file.path + ": the file changed since the model was imported (hash " + file.hash + ")");
  return mapped;
}

ArrayAttr tokenizerFilesAttr(MLIRContext *context, const std::vector<RecordedFile> &files) {
  Builder b(context);
  SmallVector<Attribute> entries;
  for (const RecordedFile &f : files)
    entries.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(f.name)),
                                           b.getNamedAttr("path", b.getStringAttr(f.path)),
                                           b.getNamedAttr("hash", b.getStringAttr(f.hash))}));
  return b.getArrayAttr(entries);
}

} // namespace qcc
