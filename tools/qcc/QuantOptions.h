// Command-line quantization options shared by `qcc compile` and `qcc eval`,
// so both quantize a model the same way.
#pragma once

#include "passes/Pipelines.h"

#include <string>
#include <vector>

namespace qcc::cli {

// Options text for --help.
extern const char *kQuantOptionsHelp;

// Consumes the quantization options of args[i] (advancing i past a value);
// returns false when args[i] is not one of them. Errors go to `error`.
bool parseQuantOption(const std::vector<std::string> &args, size_t &i, QuantizationOptions &options,
                      bool &calibGiven, std::string &error);

// When calibration is needed and no --calib was given: MODEL_DIR/calib.ids if
// the model folder has one, else random tokens. Returns a note for the user.
std::string defaultCalibration(QuantizationOptions &options, const std::string &modelDir);

} // namespace qcc::cli
