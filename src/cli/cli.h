// The ringo command line: subcommands over the server, store and client libraries.
#ifndef RINGO_CLI_CLI_H_
#define RINGO_CLI_CLI_H_

namespace ringo::cli {

// Runs the command line. Returns the process exit code: 0 success, 1 failure (the message,
// "ringo: error: ...", names the problem), 2 usage errors. Never throws.
int Main(int argc, char** argv);

}  // namespace ringo::cli

#endif  // RINGO_CLI_CLI_H_
