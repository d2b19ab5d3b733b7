// `ringo update`: applies an updatable model's on-device update to a labelled set on Linux.
#include <cstdio>
#include <iostream>

#include "cli/coreml_commands.h"
#include "coreml/coreml.h"

namespace ringo::cli {

namespace fs = std::filesystem;

namespace {

// DIR/<input>.npy for each model input (samples along the leading axis), and the loss target
// as DIR/<target>.npy or DIR/labels.npy.
Status LoadTrainingSet(const coreml::Model& model, const fs::path& dir, coreml::TrainingSet* set) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFound("training set directory '" + dir.string() + "' does not exist");
  }
  coreml::Info info = coreml::Inspect(model);
  for (const coreml::Feature& f : info.inputs) {
    ASSIGN_OR_RETURN(coreml::Value v, coreml::LoadInputFile(f, dir / (f.name + ".npy")));
    set->inputs[f.name] = std::move(v.tensor);
  }
  // The target's name is the one the loss layer gives it (from the update description).
  std::string target;
  const std::string& u = info.update;
  if (size_t at = u.find(", target "); at != std::string::npos) {
    size_t end = u.find(')', at);
    target = u.substr(at + 9, end - at - 9);
  }
  fs::path file = dir / (target + ".npy");
  if (target.empty() || !fs::exists(file, ec)) file = dir / "labels.npy";
  coreml::Feature any;
  ASSIGN_OR_RETURN(coreml::Value t, coreml::LoadInputFile(any, file));
  set->target = std::move(t.tensor);
  return Status::Ok();
}

}  // namespace

int RunUpdate(const UpdateFlags& flags) {
  auto fail = [](const Status& s) {
    std::cerr << "ringo: error: " << s.message() << std::endl;
    return 1;
  };
  if (flags.out.empty()) return fail(InvalidArgument("--out is required"));
  auto model = coreml::Load(flags.model);
  if (!model.ok()) return fail(model.status());
  if (coreml::Inspect(*model).update.empty()) {
    return fail(FailedPrecondition("'" + flags.model + "' is not an updatable model (convert "
                                   "with --updatable)"));
  }
  coreml::TrainingSet set;
  Status s = LoadTrainingSet(*model, flags.data, &set);
  if (!s.ok()) return fail(s);
  auto on_epoch = [&](int64_t epoch, double loss) {
    if (!flags.json) std::printf("epoch %lld: loss %.6f\n", static_cast<long long>(epoch), loss);
  };
  auto result = coreml::Update(&*model, set, flags.epochs, on_epoch);
  if (!result.ok()) return fail(result.status());
  s = coreml::Save(*model, flags.out);
  if (!s.ok()) return fail(s);
  if (flags.json) {
    std::printf("{\"samples\": %lld, \"epochs\": %lld, \"loss\": [",
                static_cast<long long>(result->samples), static_cast<long long>(result->epochs));
    for (size_t i = 0; i < result->epoch_loss.size(); ++i) {
      std::printf("%s%.9g", i ? ", " : "", result->epoch_loss[i]);
    }
    std::printf("], \"output\": \"%s\"}\n", flags.out.c_str());
  } else {
    std::printf("wrote %s\n", flags.out.c_str());
  }
  return 0;
}

}  // namespace ringo::cli
