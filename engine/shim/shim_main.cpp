// hoist-shim: the per-container supervisor (see engine/shim/shim.h and engine/shim/protocol.h).
#include "engine/shim/shim.h"

int main(int argc, char** argv) { return hoist::engine::shim_main(argc, argv); }
