// `ringo inspect`, `diff`, `predict` and `convert`: Core ML files on the command line.
#ifndef RINGO_CLI_COREML_COMMANDS_H_
#define RINGO_CLI_COREML_COMMANDS_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "convert/convert.h"

namespace ringo::cli {

// Prints a model's summary (text or JSON); with `validate`, also the loader checks.
// Exit code: 0 valid/printed, 1 invalid or unreadable (message on stderr).
int RunInspect(const std::string& path, bool json, bool validate);

// Prints the interface changes between two models. Exit code: 0 compatible, 1 breaking,
// 2 when a file cannot be read.
int RunDiff(const std::string& old_path, const std::string& new_path, bool json);

struct ConvertFlags {
  std::string input;
  std::string output;
  std::string precision = "fp32";
  std::string labels_file;
  std::string image_input;
  float image_scale = 1.0f;
  std::string image_bias;  // "R,G,B" (or one value for grayscale)
  std::string color_layout = "RGB";
  std::vector<std::string> input_renames;   // old=new
  std::vector<std::string> output_renames;  // old=new
  std::string minimum_deployment_target;
  std::vector<std::string> metadata;  // key=value
  std::vector<std::string> shapes;    // NAME=1..8x3x224x224 or NAME=1x3x224x224,1x3x160x160
  std::string compress;  // "", int8, int8-tensor, palettize1|2|4|6|8, prune
  double sparsity = 0.5;
  double tolerance = 1e-2;  // --precision auto
  std::string report;       // --precision auto: per-op report path
  std::string sweep;  // comma-separated variants: fp16, auto, int8, palettize4, ...
  std::string eval;   // with sweep: directory of <input>.npy batches and labels.npy
  std::string pick;   // with sweep: "accuracy >= 0.97", "max_error <= 0.02", "size <= N"
  bool json = false;
  bool check = false;  // list the nodes that cannot be converted instead of converting
  std::string to;      // with check and no output: mlmodel or mlpackage (the default)
  // --updatable: comma-separated layers; the rest fill convert::UpdateOptions.
  std::string updatable;
  convert::UpdateOptions update;
};

// Converts an ONNX file to .mlmodel / .mlpackage (by the output's extension). Exit 0 on success,
// 1 with the reason otherwise (nothing written). With `check`, writes nothing: prints each node
// that cannot be converted to the format (--to, or the output's extension) with its op, the op's
// opset and the reason, and exits 1 when there is any.
int RunConvert(const ConvertFlags& flags);

// The options `f` asks for; kInvalidArgument for bad values.
Status BuildOptions(const ConvertFlags& f, convert::Options* o);

// `ringo convert --sweep` (sweep_command.cc): converts fp32 and each variant to .mlpackage,
// evaluates them on the --eval set and prints size, accuracy (against labels.npy, else the fp32
// top-1) and max error relative to fp32 per variant; with --pick writes the smallest variant
// that meets the condition to --output (exit 1 and nothing written when none does).
int RunSweep(const ConvertFlags& flags);

// Runs a model on the reference evaluator. `inputs` are NAME=FILE (.npy, .png, .json). Exit 0
// with the outputs printed (JSON with `json`), 1 with the reason otherwise.
int RunPredict(const std::string& path, const std::vector<std::string>& inputs, bool json);

struct UpdateFlags {
  std::string model;
  std::string data;  // DIR of <input>.npy and <target>.npy or labels.npy
  std::string out;
  int64_t epochs = 0;  // 0: the model's
  bool json = false;
};

// `ringo update` (update_command.cc): trains an updatable .mlmodel's updatable layers on the set
// in --data as its update parameters say, prints the loss per epoch and writes the personalised
// model to --out. Exit 0 on success, 1 with the reason otherwise (nothing written).
int RunUpdate(const UpdateFlags& flags);

}  // namespace ringo::cli

#endif  // RINGO_CLI_COREML_COMMANDS_H_
