// Entry point of the ringo binary: everything lives in cli::Main.
#include "cli/cli.h"

int main(int argc, char** argv) { return ringo::cli::Main(argc, argv); }
