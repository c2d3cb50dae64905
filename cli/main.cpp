// hoist: the docker-style CLI.
#include "cli/commands/commands.h"

int main(int argc, char** argv) { return hoist::cli::main_entry(argc, argv); }
