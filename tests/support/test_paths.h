// Where a process test finds the binaries it starts, the sources and the tools. The values are
// written per test binary by tests/CMakeLists.txt into a generated source (an empty string for a
// binary the test binary does not depend on). They are not compile definitions so that the
// compile commands hold no absolute path: a checkout elsewhere then hits the compiler cache.
// This header is force-included into every process test's sources.
#pragma once

namespace hoist::test::paths {
extern const char* const runtime;
extern const char* const source_dir;
extern const char* const tools_dir;
extern const char* const hoistd;
extern const char* const shim;
extern const char* const image;
extern const char* const cli;
extern const char* const agent_list;  // tools/agent_list.cpp's static binary
}  // namespace hoist::test::paths

#define HOIST_RUNTIME_BIN ::hoist::test::paths::runtime
#define HOIST_SOURCE_DIR ::hoist::test::paths::source_dir
#define HOIST_TOOLS_DIR ::hoist::test::paths::tools_dir
#define HOISTD_BIN ::hoist::test::paths::hoistd
#define HOIST_SHIM_BIN ::hoist::test::paths::shim
#define HOIST_IMAGE_BIN ::hoist::test::paths::image
#define HOIST_CLI_BIN ::hoist::test::paths::cli
#define HOIST_AGENT_LIST_BIN ::hoist::test::paths::agent_list
