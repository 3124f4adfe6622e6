#include "runtime/artifact/ArtifactFile.h"

#include "runtime/artifact/ContentHashes.h"
#include "runtime/schema/artifact_generated.h"
#include "support/MappedFile.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

namespace qcc::artifact {

static uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
static uint32_t readLE32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

static std::string str(const flatbuffers::String *s) { return s ? s->str() : std::string(); }

template <typename T, typename V> static std::vector<T> vec(const flatbuffers::Vector<V> *v) {
  std::vector<T> out;
  if (v) out.assign(v->begin(), v->end());
  return out;
}

// FlatBuffers 2.0.8's verifier aligns a vector's length field (4 bytes) but
// not its elements: a crafted file can place a [long] vector at an address
// that is not 8-aligned (found by the fuzzer). Reading it would be undefined
// behaviour, so such vectors are rejected before use.
template <typename V> static bool elementsAligned(const flatbuffers::Vector<V> *v) {
  return !v || v->size() == 0 || reinterpret_cast<uintptr_t>(v->data()) % sizeof(V) == 0;
}

// Header FlatBuffer (already verified) -> plain structs. Enum values are
// range-checked by validateSpec afterwards (the verifier does not check them).
static Status decode(const fb::Artifact &a, ArtifactSpec &spec, std::vector<ByteRange> &data,
                     std::vector<ByteRange> &scales, std::vector<DType> &dtypes,
                     std::vector<TensorHashes> &tensorHashes, std::vector<std::string> &kernelHashes) {
  const fb::ModelConfig &fc = *a.config();
  if (!elementsAligned(fc.eos_token_ids())) return Status::error("config: eos_token_ids vector is misaligned");
  ModelConfig &c = spec.config;
  c.hiddenSize = fc.hidden_size();
  c.intermediateSize = fc.intermediate_size();
  c.numLayers = fc.num_layers();
  c.numHeads = fc.num_heads();
  c.numKvHeads = fc.num_kv_heads();
  c.headDim = fc.head_dim();
  c.vocabSize = fc.vocab_size();
  c.maxPositionEmbeddings = fc.max_position_embeddings();
  c.rmsNormEps = fc.rms_norm_eps();
  c.ropeTheta = fc.rope_theta();
  if (const fb::RopeScaling *r = fc.rope_scaling()) {
    c.ropeScaling.enabled = true;
    c.ropeScaling.factor = r->factor();
    c.ropeScaling.lowFreqFactor = r->low_freq_factor();
    c.ropeScaling.highFreqFactor = r->high_freq_factor();
    c.ropeScaling.originalMaxPositionEmbeddings = r->original_max_position_embeddings();
  }
  c.tieWordEmbeddings = fc.tie_word_embeddings();
  c.bosTokenId = fc.bos_token_id();
  c.eosTokenIds = vec<int64_t>(fc.eos_token_ids());
  if (uint8_t(fc.torch_dtype()) > uint8_t(fb::TorchDtype::MAX))
    return Status::error("config: unknown torch_dtype " + std::to_string(int(fc.torch_dtype())));
  c.torchDtype = ModelConfig::TorchDtype(uint8_t(fc.torch_dtype()));

  for (const fb::Tensor *t : *a.tensors()) {
    TensorDecl d;
    d.name = t->name()->str();
    if (!elementsAligned(t->shape())) return Status::error("tensor '" + d.name + "': shape vector is misaligned");
    d.role = TensorRole(uint8_t(t->role()));
    d.format = WeightFormat(uint8_t(t->format()));
    if (uint8_t(t->dtype()) > uint8_t(fb::DType::MAX))
      return Status::error("tensor '" + d.name + "': unknown dtype " + std::to_string(int(t->dtype())));
    d.dtype = DType(uint8_t(t->dtype()));
    d.shape = vec<int64_t>(t->shape());
    d.groupSize = t->group_size();
    d.method = QuantMethod(uint8_t(t->method()));
    d.mseClip = t->mse_clip();
    d.smoothquantAlpha = t->smoothquant_alpha();
    if (uint8_t(d.format) > uint8_t(WeightFormat::W4A16))
      return Status::error("tensor '" + d.name + "': unknown format " + std::to_string(int(d.format)));
    if (!t->data_hash()) return Status::error("tensor '" + d.name + "' has no data hash");
    tensorHashes.push_back({t->data_hash()->str(), str(t->scales_hash())});
    dtypes.push_back(d.dtype);
    data.push_back({t->data()->offset(), t->data()->size()});
    scales.push_back(t->scales() ? ByteRange{t->scales()->offset(), t->scales()->size()} : ByteRange{});
    spec.tensors.push_back(std::move(d));
  }
  // The CPU program.
  const fb::Program &fp = *a.program();
  program::Program &pg = spec.program;
  if (uint8_t(fp.precision()) > uint8_t(fb::Precision::MAX)) return Status::error("program: unknown precision");
  pg.precision = program::Precision(uint8_t(fp.precision()));
  pg.ids = fp.ids();
  pg.positions = fp.positions();
  pg.logits = fp.logits();
  pg.numCaches = fp.num_caches();
  pg.maxPositions = fp.max_positions();
  if (fp.values())
    for (const fb::Value *v : *fp.values()) {
      if (uint8_t(v->kind()) > uint8_t(fb::ValueKind::MAX)) return Status::error("program: unknown value kind");
      pg.values.push_back({str(v->name()), program::ValueKind(uint8_t(v->kind())), v->cols()});
    }
  if (fp.ops())
    for (const fb::ProgramOp *o : *fp.ops()) {
      if (uint8_t(o->kind()) > uint8_t(fb::ProgramOpKind::MAX)) return Status::error("program: unknown op kind");
      if (!elementsAligned(o->heads())) return Status::error("program: a heads vector is misaligned");
      program::Op op;
      op.kind = program::OpKind(uint8_t(o->kind()));
      op.name = str(o->name());
      op.inputs = vec<uint32_t>(o->inputs());
      op.outputs = vec<uint32_t>(o->outputs());
      op.weights = vec<uint32_t>(o->weights());
      op.epsilon = o->epsilon();
      op.residual = o->residual();
      op.heads = vec<int64_t>(o->heads());
      op.numHeads = o->num_heads();
      op.numKvHeads = o->num_kv_heads();
      op.headDim = o->head_dim();
      op.ropeTheta = o->rope_theta();
      if (const fb::RopeScaling *r = o->rope_scaling()) {
        op.ropeScaling.enabled = true;
        op.ropeScaling.factor = r->factor();
        op.ropeScaling.lowFreqFactor = r->low_freq_factor();
        op.ropeScaling.highFreqFactor = r->high_freq_factor();
        op.ropeScaling.originalMaxPositionEmbeddings = r->original_max_position_embeddings();
      }
      op.cache = o->cache();
      op.block = o->block();
      pg.ops.push_back(std::move(op));
    }
  auto argOf = [](const fb::LaunchArg *x) {
    LaunchArg a;
    if (!x) return a;
    a.kind = ArgKind(uint8_t(x->kind())); // range-checked by validateSpec
    a.index = x->index();
    a.offset = x->offset();
    a.f32 = x->f32();
    return a;
  };
  if (a.targets())
    for (const fb::TargetKernels *t : *a.targets()) {
      TargetDecl td;
      td.target = t->target()->str();
      td.tileTable = str(t->tile_table());
      if (t->kernels())
        for (const fb::Kernel *k : *t->kernels()) {
          KernelDecl kd;
          kd.name = k->name()->str();
          kd.sourceHash = str(k->source_hash());
          if (k->ptx()) kd.ptx.assign(reinterpret_cast<const char *>(k->ptx()->data()), k->ptx()->size());
          kd.cubin = vec<uint8_t>(k->cubin());
          auto geometry = [&](const flatbuffers::Vector<uint32_t> *v, std::array<uint32_t, 3> &out,
                              const char *what) -> Status {
            if (!v) return Status::ok();
            if (v->size() != 3)
              return Status::error("target " + td.target + ": kernel '" + kd.name + "' " + what + " has " +
                                   std::to_string(v->size()) + " dimensions, expected 3");
            for (int i = 0; i < 3; ++i) out[i] = v->Get(i);
            return Status::ok();
          };
          QCC_RETURN_IF_ERROR(geometry(k->grid(), kd.grid, "grid"));
          QCC_RETURN_IF_ERROR(geometry(k->block(), kd.block, "block"));
          kd.sharedMemBytes = k->shared_mem_bytes();
          if (!k->image_hash())
            return Status::error("target " + td.target + ": kernel '" + kd.name + "' has no image hash");
          kernelHashes.push_back(k->image_hash()->str());
          td.kernels.push_back(std::move(kd));
        }
      if (t->buffers())
        for (const fb::DeviceBuffer *x : *t->buffers()) td.bufferBytesPerRow.push_back(x->bytes_per_row());
      if (t->weights())
        for (const fb::DeviceWeight *w : *t->weights())
          td.weights.push_back({vec<uint32_t>(w->tensors()), DeviceWeightLayout(uint8_t(w->layout()))});
      if (t->caches())
        for (const fb::KvCache *c : *t->caches()) td.caches.push_back({c->kv_heads(), c->head_dim()});
      td.maxSeq = t->max_seq();
      if (t->launches())
        for (const fb::Launch *l : *t->launches()) {
          LaunchDecl ld;
          ld.name = str(l->name());
          for (const fb::KernelVariant *v : *l->variants()) {
            KernelVariant kv;
            kv.kernel = v->kernel();
            kv.maxRows = v->max_rows();
            kv.block = v->block();
            if (v->grid()->size() != 3)
              return Status::error("target " + td.target + ": a launch grid has " + std::to_string(v->grid()->size()) +
                                   " dimensions, expected 3");
            for (int g = 0; g < 3; ++g) {
              const fb::GridDim *d = v->grid()->Get(g);
              kv.grid[g] = {d->constant(), d->rows_mul(), d->rows_div()};
            }
            ld.variants.push_back(kv);
          }
          for (const fb::LaunchArg *x : *l->args()) ld.args.push_back(argOf(x));
          td.launches.push_back(std::move(ld));
        }
      td.logits = argOf(t->logits());
      spec.targets.push_back(std::move(td));
    }
  if (const fb::Provenance *p = a.provenance())
    spec.provenance = {str(p->qcc_version()), str(p->options()), str(p->checkpoint_hash()), str(p->source())};
  return Status::ok();
}

Expected<std::unique_ptr<ArtifactFile>> ArtifactFile::open(const std::string &path, const LoadLimits &limits) {
  auto file = MappedFile::open(path);
  if (!file) return file.status();
  auto a = parse((*file)->data(), (*file)->size(), path, limits);
  if (!a) return a.status();
  (*a)->file_ = std::move(*file);
  return a;
}

Expected<std::unique_ptr<ArtifactFile>> ArtifactFile::parse(const uint8_t *bytes, size_t size,
                                                            const std::string &name, const LoadLimits &limits) {
  auto fail = [&](const std::string &m) { return Status::error(name + ": " + m); };
  if (size < kPreambleBytes)
    return fail("file is " + std::to_string(size) + " bytes, too short for a qcc artifact (truncated?)");
  if (std::memcmp(bytes, kMagic, 8) != 0) return fail("not a qcc artifact (bad magic)");
  const uint32_t version = readLE32(bytes + 8);
  if (version != kFormatVersion)
    return fail("artifact format version " + std::to_string(version) + " is not supported (this qcc reads version " +
                std::to_string(kFormatVersion) + ")");
  const uint64_t headerBytes = readLE32(bytes + 12);
  if (headerBytes == 0 || headerBytes > limits.maxHeaderBytes || headerBytes >= FLATBUFFERS_MAX_BUFFER_SIZE)
    return fail("header size " + std::to_string(headerBytes) + " is out of range");
  if (kPreambleBytes + headerBytes > size)
    return fail("header [16, " + std::to_string(kPreambleBytes + headerBytes) + ") is beyond the end of the file (" +
                std::to_string(size) + " bytes, truncated?)");

  std::unique_ptr<ArtifactFile> a(new ArtifactFile());
  a->name_ = name;
  a->version_ = version;
  a->size_ = size;
  a->headerBytes_ = headerBytes;
  a->rawOffset_ = alignUp(kPreambleBytes + headerBytes, kRawSectionAlignment);

  const uint8_t *header = bytes + kPreambleBytes;
  if (reinterpret_cast<uintptr_t>(header) % 8 != 0) { // the verifier checks alignment against the pointer
    a->alignedHeader_.assign(header, header + headerBytes);
    header = a->alignedHeader_.data();
  }
  if (!fb::ArtifactBufferHasIdentifier(header)) return fail("header has no QCCA identifier");
  flatbuffers::Verifier::Options opts;
  opts.max_depth = limits.maxDepth;
  opts.max_tables = limits.maxTables;
  opts.check_alignment = true;
  flatbuffers::Verifier verifier(header, headerBytes, opts);
  if (!fb::VerifyArtifactBuffer(verifier)) return fail("header failed FlatBuffers verification (corrupt file)");
  const fb::Artifact &root = *fb::GetArtifact(header);

  // The raw section starts at the first 4096-aligned offset after the header
  // and the file ends exactly where it ends.
  if (root.raw_alignment() != kTensorAlignment)
    return fail("raw alignment " + std::to_string(root.raw_alignment()) + " is not " + std::to_string(kTensorAlignment));
  const uint64_t rawSize = root.raw_size();
  if (a->rawOffset_ > size || rawSize != size - a->rawOffset_)
    return fail("raw section of " + std::to_string(rawSize) + " bytes at offset " + std::to_string(a->rawOffset_) +
                " needs a file of " +
                (rawSize > UINT64_MAX - a->rawOffset_ ? std::string("more than 2^64")
                                                      : std::to_string(a->rawOffset_ + rawSize)) +
                " bytes, the file has " + std::to_string(size) + (a->rawOffset_ + rawSize > size ? " (truncated?)" : ""));
  for (uint64_t i = kPreambleBytes + headerBytes; i < a->rawOffset_; ++i)
    if (bytes[i] != 0) return fail("nonzero padding byte at offset " + std::to_string(i));

  std::vector<ByteRange> data, scales;
  std::vector<DType> dtypes;
  std::vector<TensorHashes> hashes;
  if (Status s = decode(root, a->spec_, data, scales, dtypes, hashes, a->kernelHashes_); !s)
    return s.withContext(name);
  if (Status s = validateSpec(a->spec_); !s) return s.withContext(name);

  // Ranges: aligned, inside the raw section, of the implied size, disjoint.
  std::vector<std::pair<ByteRange, std::string>> all;
  const uint8_t *raw = bytes + a->rawOffset_;
  for (size_t i = 0; i < a->spec_.tensors.size(); ++i) {
    const TensorDecl &d = a->spec_.tensors[i];
    TensorLayout l = *layoutOf(d);
    const std::string where = "tensor '" + d.name + "'";
    if (dtypes[i] != l.dataType)
      return fail(where + ": dtype " + dtypeName(dtypes[i]) + " does not match format " + formatName(d.format));
    auto check = [&](const ByteRange &r, uint64_t want, const char *what) -> Status {
      if (r.size != want)
        return Status::error(name + ": " + where + ": " + what + " has " + std::to_string(r.size) + " bytes, shape " +
                             "and format imply " + std::to_string(want));
      if (want == 0) return r.offset == 0 ? Status::ok() : Status::error(name + ": " + where + ": empty " + what + " range has an offset");
      if (r.offset % kTensorAlignment != 0)
        return Status::error(name + ": " + where + ": " + what + " offset " + std::to_string(r.offset) +
                             " is not 64-byte aligned");
      if (r.offset > rawSize || r.size > rawSize - r.offset)
        return Status::error(name + ": " + where + ": " + what + " range [" + std::to_string(r.offset) + ", +" +
                             std::to_string(r.size) + ") is outside the raw section (" + std::to_string(rawSize) +
                             " bytes)");
      all.push_back({r, d.name + " " + what});
      return Status::ok();
    };
    QCC_RETURN_IF_ERROR(check(data[i], l.dataBytes, "data"));
    QCC_RETURN_IF_ERROR(check(scales[i], l.scaleBytes, "scales"));
    if (l.scaleBytes && hashes[i].scales.empty()) return fail(where + ": has scales but no scales hash");
    if (!l.scaleBytes && !hashes[i].scales.empty()) return fail(where + ": has a scales hash but no scales");
    LoadedTensor t;
    t.decl = d;
    t.dataType = l.dataType;
    t.dataRange = data[i];
    t.scaleRange = scales[i];
    t.data = raw + data[i].offset;
    t.scales = l.scaleBytes ? raw + scales[i].offset : nullptr;
    t.dataHash = std::move(hashes[i].data);
    t.scalesHash = std::move(hashes[i].scales);
    a->byName_[d.name] = a->tensors_.size();
    a->tensors_.push_back(std::move(t));
  }
  std::sort(all.begin(), all.end(), [](const auto &x, const auto &y) { return x.first.offset < y.first.offset; });
  for (size_t i = 1; i < all.size(); ++i)
    if (all[i].first.offset < all[i - 1].first.offset + all[i - 1].first.size)
      return fail("ranges of " + all[i - 1].second + " and " + all[i].second + " overlap");
  a->raw_ = raw;
  if (limits.verifyContent) {
    auto checked = a->verifyContent();
    if (!checked) return checked.status();
  }
  return a;
}

Expected<ContentCheck> ArtifactFile::verifyContent() const {
  auto fail = [&](const std::string &m) { return Status::error(name_ + ": " + m); };
  // The raw section outside every range is zero padding.
  std::vector<ByteRange> ranges;
  for (const LoadedTensor &t : tensors_) {
    ranges.push_back(t.dataRange);
    if (t.scaleRange.size) ranges.push_back(t.scaleRange);
  }
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange &x, const ByteRange &y) { return x.offset < y.offset; });
  uint64_t pos = 0;
  const uint64_t rawSize = size_ - rawOffset_;
  auto checkZeros = [&](uint64_t from, uint64_t to) -> Status {
    for (uint64_t i = from; i < to; ++i)
      if (raw_[i] != 0)
        return fail("nonzero padding byte at offset " + std::to_string(rawOffset_ + i) + " (corrupt file)");
    return Status::ok();
  };
  for (const ByteRange &r : ranges) {
    QCC_RETURN_IF_ERROR(checkZeros(pos, r.offset));
    pos = r.offset + r.size;
  }
  QCC_RETURN_IF_ERROR(checkZeros(pos, rawSize));

  // One job per byte range; the largest first, shared by a few threads.
  struct Job {
    const uint8_t *bytes = nullptr;
    uint64_t size = 0;
    const KernelDecl *kernel = nullptr; // a kernel image instead of bytes
    const std::string *expected = nullptr;
    std::string what;
  };
  std::vector<Job> jobs;
  ContentCheck stats;
  for (const LoadedTensor &t : tensors_) {
    jobs.push_back({t.data, t.dataRange.size, nullptr, &t.dataHash, "tensor '" + t.decl.name + "': data do"});
    if (t.scaleRange.size)
      jobs.push_back({t.scales, t.scaleRange.size, nullptr, &t.scalesHash, "tensor '" + t.decl.name + "': scales do"});
    stats.bytes += t.dataRange.size + t.scaleRange.size;
    ++stats.tensors;
  }
  size_t k = 0;
  for (const TargetDecl &target : spec_.targets)
    for (const KernelDecl &kernel : target.kernels) {
      jobs.push_back({nullptr, kernel.ptx.size() + kernel.cubin.size(), &kernel, &kernelHashes_[k++],
                      "target " + target.target + ": kernel '" + kernel.name + "': ptx and cubin do"});
      stats.bytes += kernel.ptx.size() + kernel.cubin.size();
      ++stats.kernels;
    }
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return jobs[x].size > jobs[y].size; });
  std::vector<char> bad(jobs.size(), 0);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < order.size(); i = next++) {
      const Job &j = jobs[order[i]];
      const std::string got = j.kernel ? kernelImageHash(*j.kernel) : contentHash(j.bytes, j.size);
      bad[order[i]] = got != *j.expected;
    }
  };
  const unsigned threads =
      unsigned(std::min<size_t>({size_t(std::max(1u, std::thread::hardware_concurrency())), size_t(8), jobs.size()}));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool) t.join();
  for (size_t i = 0; i < jobs.size(); ++i) // the first in file order
    if (bad[i]) return fail(jobs[i].what + " not match their hash (corrupt file)");
  return stats;
}

ArtifactFile::~ArtifactFile() = default;

const LoadedTensor *ArtifactFile::find(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &tensors_[it->second];
}

} // namespace qcc::artifact
