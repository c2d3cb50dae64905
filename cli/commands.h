// The hoist CLI's commands; main() is only `return hoist::cli::main_entry(argc, argv);`.
#pragma once

namespace hoist::cli {

int main_entry(int argc, char** argv);

}  // namespace hoist::cli
