// The ringo command line: builds the command tree from one registration per noun, parses, and
// returns the chosen verb's exit code.
#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/command.h"

namespace ringo::cli {

int Main(int argc, char** argv) {
  // The one safety net of the CLI: nothing escapes as an exception.
  try {
    CLI::App app{"ringo: MLOps for Core ML (tracking server, MLflow-compatible)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", kVersion);
    Context ctx;
    AddServerCommand(app, ctx);
    AddExperimentsCommand(app, ctx);
    AddRunsCommand(app, ctx);
    AddLogCommand(app, ctx);
    AddCoreMLCommands(app, ctx);
    AddRunCommand(app, ctx);
    AddStepCommand(app, ctx);
    AddModelsCommand(app, ctx);
    AddDeviceCommands(app, ctx);
    AddTokensCommand(app, ctx);
    AddAuditCommand(app, ctx);
    AddUsersCommand(app, ctx);
    AddCollectionsCommand(app, ctx);
    AddDeploymentsCommand(app, ctx);
    AddChannelsCommand(app, ctx);
    AddAppsCommand(app, ctx);
    AddWebhooksCommand(app, ctx);
    AddSchedulesCommand(app, ctx);
    AddReleaseCommand(app, ctx);
    AddStoreCommand(app, ctx);
    auto* version = app.add_subcommand("version", "Print the version");
    OnRun(version, &ctx, [] {
      std::cout << "ringo " << kVersion << "\n";
      return 0;
    });
    try {
      app.parse(argc, argv);  // runs the chosen verb
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return ctx.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "ringo: error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace ringo::cli
