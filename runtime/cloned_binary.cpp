#include "runtime/cloned_binary.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"

extern char** environ;

namespace hoist::runtime {
namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

void ensure_cloned_binary(char** argv) {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  int seals = ::fcntl(self.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return;

  UniqueFd mem(::memfd_create("hoist-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) throw_sys("memfd_create", "runtime copy");
  struct stat st;
  if (::fstat(self.get(), &st) != 0) throw_sys("stat", "/proc/self/exe");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(mem.get(), self.get(), nullptr, static_cast<size_t>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_sys("copy", "/proc/self/exe to memfd");
    }
    if (n == 0) break;
    left -= n;
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) throw_sys("seal", "runtime copy");
  self.reset();
  ::syscall(SYS_execveat, mem.get(), "", argv, environ, AT_EMPTY_PATH);
  throw_sys("execute", "sealed runtime copy");
}

}  // namespace hoist::runtime
