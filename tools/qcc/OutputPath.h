// The output check of every qcc command that writes a file (compile, import,
// tune), run before any import, quantization or GPU work, so a bad -o costs
// nothing: the path must be a place AtomicFileWriter may write
// (checkOutputTarget: a regular file or a new name in a folder this process
// can create files in, or a character device such as /dev/null, written
// through), and it must not be one of the command's inputs (same device and
// inode, symbolic links followed): `-o MODEL/model.safetensors` is refused
// instead of replacing the checkpoint being read.
#pragma once

#include "support/Status.h"

#include <string>
#include <vector>

namespace qcc::cli {

Status checkOutputPath(const std::string &path, const std::vector<std::string> &inputs);

// The files of a checkpoint folder a command reads: config.json, every
// *.safetensors and the shard index, tokenizer.json, calib.ids.
std::vector<std::string> checkpointInputs(const std::string &modelDir);

} // namespace qcc::cli
