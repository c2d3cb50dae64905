#include "engine/git_lib.h"


#include "common/shared_lib.h"

namespace hoist::engine {

namespace {

GitLib load() {
  SharedLib so("libgit2.so.1.5");
  GitLib lib{};
#define HOIST_GIT_BIND(f) so.bind(#f, lib.f);
  HOIST_GIT_FUNCTIONS(HOIST_GIT_BIND)
#undef HOIST_GIT_BIND
  lib.git_libgit2_init();
  for (git_config_level_t level : {GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                                   GIT_CONFIG_LEVEL_GLOBAL})
    lib.git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
  so.keep();  // the library stays loaded for the process's life
  return lib;
}

}  // namespace

const GitLib& git_lib() { return load_once<GitLib, load>(); }

}  // namespace hoist::engine
