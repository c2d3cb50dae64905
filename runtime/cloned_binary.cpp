#include "runtime/cloned_binary.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"

extern char** environ;

namespace hoist::runtime {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

[[noreturn]] void exec_fd(int fd, char** argv) {
  ::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  throw_sys("execute", "read-only runtime copy");
}

UniqueFd sealed_copy(int self) {
  UniqueFd mem(::memfd_create("hoist-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) throw_sys("memfd_create", "runtime copy");
  struct stat st;
  if (::fstat(self, &st) != 0) throw_sys("stat", "/proc/self/exe");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(mem.get(), self, nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("copy", "/proc/self/exe to memfd");
    if (n == 0) break;
    left -= n;
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) throw_sys("seal", "runtime copy");
  return mem;
}

}  // namespace

UniqueFd readonly_self() {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  // /proc/self/exe names a mount of the namespace we were started in, which a bind cannot take
  // from: bind the path, as our namespace's copy of the tree has it, if it is still our file.
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  struct stat running, at_path;
  if (n > 0) {
    exe[n] = '\0';
    if (::fstat(self.get(), &running) == 0 && ::stat(exe, &at_path) == 0 && running.st_ino == at_path.st_ino &&
        running.st_dev == at_path.st_dev &&
        ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) == 0 &&
        ::mount(exe, exe, nullptr, MS_BIND, nullptr) == 0) {
      if (::mount(nullptr, exe, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
        throw_sys("remount read-only", exe);
      int fd = ::open(exe, O_PATH | O_CLOEXEC);
      if (fd < 0) throw_sys("open", exe);
      return UniqueFd(fd);
    }
  }
  return sealed_copy(self.get());
}

UniqueFd sealed_self_copy() {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  return sealed_copy(self.get());
}

void ensure_cloned_binary(char** argv) {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  struct statvfs sv;
  if (::fstatvfs(self.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY)) return;
  int seals = ::fcntl(self.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return;
  self.reset();
  if (::unshare(CLONE_NEWNS) != 0) throw_sys("unshare", "mount namespace");
  UniqueFd ro = readonly_self();
  exec_fd(ro.get(), argv);
}

}  // namespace hoist::runtime
