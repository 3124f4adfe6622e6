#include "runtime/artifact/ArtifactWriter.h"

#include "runtime/artifact/ContentHashes.h"
#include "runtime/schema/artifact_generated.h"
#include "support/MappedFile.h"

#include <cstring>

namespace qcc::artifact {

static uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

std::vector<uint8_t> encodeHeader(const ArtifactSpec &spec, const std::vector<ByteRange> &data,
                                  const std::vector<ByteRange> &scales, uint64_t rawSize,
                                  const std::vector<TensorHashes> *hashes) {
  flatbuffers::FlatBufferBuilder b(1 << 16);
  const ModelConfig &c = spec.config;

  flatbuffers::Offset<fb::RopeScaling> rope = 0;
  if (c.ropeScaling.enabled)
    rope = fb::CreateRopeScaling(b, c.ropeScaling.factor, c.ropeScaling.lowFreqFactor, c.ropeScaling.highFreqFactor,
                                 c.ropeScaling.originalMaxPositionEmbeddings);
  auto eos = b.CreateVector(c.eosTokenIds);
  auto config = fb::CreateModelConfig(b, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads,
                                      c.headDim, c.vocabSize, c.maxPositionEmbeddings, c.rmsNormEps, c.ropeTheta,
                                      rope, c.tieWordEmbeddings, c.bosTokenId, eos,
                                      fb::TorchDtype(static_cast<uint8_t>(c.torchDtype)));

  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    const TensorDecl &t = spec.tensors[i];
    auto layout = layoutOf(t);
    DType dt = layout ? layout->dataType : t.dtype;
    fb::Range dr(data[i].offset, data[i].size), sr(scales[i].offset, scales[i].size);
    auto name = b.CreateString(t.name);
    auto shape = b.CreateVector(t.shape);
    auto dataHash = b.CreateString(hashes ? (*hashes)[i].data : placeholderHash());
    flatbuffers::Offset<flatbuffers::String> scalesHash; // absent without scales
    if (scales[i].size) scalesHash = b.CreateString(hashes ? (*hashes)[i].scales : placeholderHash());
    tensors.push_back(fb::CreateTensor(b, name, fb::TensorRole(t.role), fb::WeightFormat(t.format), fb::DType(dt),
                                       shape, t.groupSize, &dr, &sr, fb::QuantMethod(t.method), t.mseClip,
                                       t.smoothquantAlpha, dataHash, scalesHash));
  }
  auto tensorVec = b.CreateVector(tensors);

  // The CPU program.
  const program::Program &pg = spec.program;
  std::vector<flatbuffers::Offset<fb::Value>> values;
  for (const program::Value &v : pg.values)
    values.push_back(fb::CreateValue(b, b.CreateString(v.name), fb::ValueKind(uint8_t(v.kind)), v.cols));
  auto valueVec = b.CreateVector(values);
  std::vector<flatbuffers::Offset<fb::ProgramOp>> ops;
  for (const program::Op &op : pg.ops) {
    flatbuffers::Offset<fb::RopeScaling> scaling = 0;
    if (op.ropeScaling.enabled)
      scaling = fb::CreateRopeScaling(b, op.ropeScaling.factor, op.ropeScaling.lowFreqFactor,
                                      op.ropeScaling.highFreqFactor, op.ropeScaling.originalMaxPositionEmbeddings);
    auto name = b.CreateString(op.name);
    auto ins = b.CreateVector(op.inputs), outs = b.CreateVector(op.outputs), ws = b.CreateVector(op.weights);
    auto heads = b.CreateVector(op.heads);
    ops.push_back(fb::CreateProgramOp(b, fb::ProgramOpKind(uint8_t(op.kind)), name, ins, outs, ws, op.epsilon,
                                      op.residual, heads, op.numHeads, op.numKvHeads, op.headDim, op.ropeTheta,
                                      scaling, op.cache, op.block));
  }
  auto opVec = b.CreateVector(ops);
  auto program = fb::CreateProgram(b, fb::Precision(uint8_t(pg.precision)), valueVec, opVec, pg.ids, pg.positions,
                                   pg.logits, pg.numCaches, pg.maxPositions);

  auto arg = [&](const LaunchArg &a) {
    return fb::CreateLaunchArg(b, fb::ArgKind(uint8_t(a.kind)), a.index, a.offset, a.f32);
  };
  std::vector<flatbuffers::Offset<fb::TargetKernels>> targets;
  for (const TargetDecl &t : spec.targets) {
    std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
    for (const KernelDecl &k : t.kernels) {
      auto name = b.CreateString(k.name);
      auto hash = b.CreateString(k.sourceHash);
      auto ptx = b.CreateVector(reinterpret_cast<const uint8_t *>(k.ptx.data()), k.ptx.size());
      auto cubin = b.CreateVector(k.cubin);
      auto grid = b.CreateVector(k.grid.data(), 3);
      auto block = b.CreateVector(k.block.data(), 3);
      auto imageHash = b.CreateString(kernelImageHash(k));
      fb::KernelBuilder kb(b);
      kb.add_name(name);
      kb.add_source_hash(hash);
      kb.add_ptx(ptx);
      kb.add_cubin(cubin);
      kb.add_grid(grid);
      kb.add_block(block);
      kb.add_shared_mem_bytes(k.sharedMemBytes);
      kb.add_image_hash(imageHash);
      kernels.push_back(kb.Finish());
    }
    auto target = b.CreateString(t.target);
    auto kernelVec = b.CreateVector(kernels);
    flatbuffers::Offset<flatbuffers::String> tiles; // absent when empty
    if (!t.tileTable.empty()) tiles = b.CreateString(t.tileTable);
    std::vector<flatbuffers::Offset<fb::DeviceBuffer>> buffers;
    for (uint64_t bytes : t.bufferBytesPerRow) buffers.push_back(fb::CreateDeviceBuffer(b, bytes));
    auto bufferVec = b.CreateVector(buffers);
    std::vector<flatbuffers::Offset<fb::DeviceWeight>> weights;
    for (const DeviceWeightDecl &w : t.weights)
      weights.push_back(fb::CreateDeviceWeight(b, b.CreateVector(w.tensors), fb::DeviceWeightLayout(uint8_t(w.layout))));
    auto weightVec = b.CreateVector(weights);
    std::vector<flatbuffers::Offset<fb::KvCache>> caches;
    for (const KvCacheDecl &c : t.caches) caches.push_back(fb::CreateKvCache(b, c.kvHeads, c.headDim));
    auto cacheVec = b.CreateVector(caches);
    std::vector<flatbuffers::Offset<fb::Launch>> launches;
    for (const LaunchDecl &l : t.launches) {
      std::vector<flatbuffers::Offset<fb::KernelVariant>> variants;
      for (const KernelVariant &v : l.variants) {
        std::vector<flatbuffers::Offset<fb::GridDim>> grid;
        for (const GridDim &g : v.grid) grid.push_back(fb::CreateGridDim(b, g.constant, g.rowsMul, g.rowsDiv));
        auto gridVec = b.CreateVector(grid);
        variants.push_back(fb::CreateKernelVariant(b, v.kernel, v.maxRows, gridVec, v.block));
      }
      auto variantVec = b.CreateVector(variants);
      std::vector<flatbuffers::Offset<fb::LaunchArg>> args;
      for (const LaunchArg &a : l.args) args.push_back(arg(a));
      auto argVec = b.CreateVector(args);
      launches.push_back(fb::CreateLaunch(b, b.CreateString(l.name), variantVec, argVec));
    }
    auto launchVec = b.CreateVector(launches);
    auto logits = arg(t.logits);
    targets.push_back(fb::CreateTargetKernels(b, target, kernelVec, tiles, bufferVec, weightVec, cacheVec, t.maxSeq,
                                              launchVec, logits));
  }
  auto targetVec = b.CreateVector(targets);

  const Provenance &p = spec.provenance;
  auto prov = fb::CreateProvenance(b, b.CreateString(p.qccVersion), b.CreateString(p.options),
                                   b.CreateString(p.checkpointHash), b.CreateString(p.source));
  auto root = fb::CreateArtifact(b, config, tensorVec, program, targetVec, prov, kTensorAlignment, rawSize);
  fb::FinishArtifactBuffer(b, root);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

Expected<std::unique_ptr<ArtifactWriter>> ArtifactWriter::create(const std::string &path, ArtifactSpec spec) {
  return create(path, std::move(spec), /*inMemory=*/false);
}

Expected<std::unique_ptr<ArtifactWriter>> ArtifactWriter::createInMemory(const std::string &name, ArtifactSpec spec) {
  return create(name, std::move(spec), /*inMemory=*/true);
}

int ArtifactWriter::releaseFd() { return finished_ && out_ ? out_->releaseFd() : -1; }

Expected<std::unique_ptr<ArtifactWriter>> ArtifactWriter::create(const std::string &path, ArtifactSpec spec,
                                                                 bool inMemory) {
  if (Status s = validateSpec(spec); !s) return s.withContext(path);
  std::unique_ptr<ArtifactWriter> w(new ArtifactWriter());
  w->path_ = path;
  w->spec_ = std::move(spec);

  // Plan: tensors in declaration order, data then scales, each 64-aligned.
  uint64_t cursor = 0;
  for (const TensorDecl &t : w->spec_.tensors) {
    TensorLayout l = *layoutOf(t); // validated above
    cursor = alignUp(cursor, kTensorAlignment);
    w->data_.push_back({cursor, l.dataBytes});
    cursor += l.dataBytes;
    if (l.scaleBytes) {
      cursor = alignUp(cursor, kTensorAlignment);
      w->scales_.push_back({cursor, l.scaleBytes});
      cursor += l.scaleBytes;
    } else {
      w->scales_.push_back({0, 0});
    }
  }
  w->rawSize_ = alignUp(cursor, kTensorAlignment);

  std::vector<uint8_t> header = encodeHeader(w->spec_, w->data_, w->scales_, w->rawSize_);
  if (header.size() > (uint64_t(1) << 31)) return Status::error(path + ": header is larger than 2 GiB");
  w->headerBytes_ = header.size();
  w->hashes_.resize(w->spec_.tensors.size());
  w->rawOffset_ = alignUp(kPreambleBytes + header.size(), kRawSectionAlignment);

  auto out = inMemory ? AtomicFileWriter::createInMemory(path) : AtomicFileWriter::create(path);
  if (!out) return out.status();
  w->out_ = std::move(*out);
  uint8_t preamble[kPreambleBytes] = {};
  std::memcpy(preamble, kMagic, 8);
  const uint32_t version = kFormatVersion, headerBytes = uint32_t(header.size());
  for (int i = 0; i < 4; ++i) { // little-endian regardless of host
    preamble[8 + i] = uint8_t(version >> (8 * i));
    preamble[12 + i] = uint8_t(headerBytes >> (8 * i));
  }
  QCC_RETURN_IF_ERROR(w->out_->write(preamble, sizeof preamble));
  QCC_RETURN_IF_ERROR(w->out_->write(header.data(), header.size()));
  QCC_RETURN_IF_ERROR(w->out_->writeZeros(w->rawOffset_ - w->out_->offset()));
  return w;
}

ArtifactWriter::~ArtifactWriter() = default;

std::string ArtifactWriter::nextTensor() const {
  return next_ < spec_.tensors.size() ? spec_.tensors[next_].name : std::string();
}

Status ArtifactWriter::padTo(uint64_t rawPos) {
  const uint64_t target = rawOffset_ + rawPos;
  if (out_->offset() > target) return Status::error(path_ + ": internal error: writer is past its plan");
  return out_->writeZeros(target - out_->offset());
}

Status ArtifactWriter::writeTensor(const std::string &name, const void *data, size_t dataBytes, const void *scales,
                                   size_t scaleBytes) {
  if (!out_ || finished_) return Status::error(path_ + ": writeTensor after finish");
  if (next_ >= spec_.tensors.size())
    return Status::error(path_ + ": tensor '" + name + "' written but every declared tensor is already written");
  if (name != spec_.tensors[next_].name)
    return Status::error(path_ + ": tensor '" + name + "' written out of order (expected '" +
                         spec_.tensors[next_].name + "')");
  const ByteRange &d = data_[next_], &s = scales_[next_];
  if (dataBytes != d.size || scaleBytes != s.size)
    return Status::error(path_ + ": tensor '" + name + "' has " + std::to_string(dataBytes) + " data and " +
                         std::to_string(scaleBytes) + " scale bytes, its declaration needs " +
                         std::to_string(d.size) + " and " + std::to_string(s.size));
  if (!data || (s.size && !scales)) return Status::error(path_ + ": tensor '" + name + "' has no bytes");
  QCC_RETURN_IF_ERROR(padTo(d.offset));
  QCC_RETURN_IF_ERROR(out_->write(data, dataBytes));
  hashes_[next_].data = contentHash(data, dataBytes);
  if (s.size) {
    QCC_RETURN_IF_ERROR(padTo(s.offset));
    QCC_RETURN_IF_ERROR(out_->write(scales, scaleBytes));
    hashes_[next_].scales = contentHash(scales, scaleBytes);
  }
  ++next_;
  return Status::ok();
}

Status ArtifactWriter::finish() {
  if (!out_ || finished_) return Status::error(path_ + ": finish called twice");
  if (next_ != spec_.tensors.size())
    return Status::error(path_ + ": finish with " + std::to_string(spec_.tensors.size() - next_) +
                         " tensors not written (next: '" + spec_.tensors[next_].name + "')");
  QCC_RETURN_IF_ERROR(padTo(rawSize_));
  // The header again, now with every tensor's hash (the same size: the
  // placeholders had the hashes' length).
  std::vector<uint8_t> header = encodeHeader(spec_, data_, scales_, rawSize_, &hashes_);
  if (header.size() != headerBytes_)
    return Status::error(path_ + ": internal error: the header changed size when its hashes were filled in");
  QCC_RETURN_IF_ERROR(out_->writeAt(kPreambleBytes, header.data(), header.size()));
  finished_ = true;
  return out_->commit();
}

} // namespace qcc::artifact
