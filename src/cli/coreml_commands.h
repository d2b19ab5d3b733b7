// `ringo inspect` and `ringo diff`: Core ML files on the command line.
#ifndef RINGO_CLI_COREML_COMMANDS_H_
#define RINGO_CLI_COREML_COMMANDS_H_

#include <string>

namespace ringo::cli {

// Prints a model's summary (text or JSON); with `validate`, also the loader checks.
// Exit code: 0 valid/printed, 1 invalid or unreadable (message on stderr).
int RunInspect(const std::string& path, bool json, bool validate);

// Prints the interface changes between two models. Exit code: 0 compatible, 1 breaking,
// 2 when a file cannot be read.
int RunDiff(const std::string& old_path, const std::string& new_path, bool json);

}  // namespace ringo::cli

#endif  // RINGO_CLI_COREML_COMMANDS_H_
