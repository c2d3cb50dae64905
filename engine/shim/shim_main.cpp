// hoist-shim: the per-container supervisor (see engine/shim.h).
#include "engine/shim/shim.h"

int main(int argc, char** argv) { return hoist::engine::shim_main(argc, argv); }
