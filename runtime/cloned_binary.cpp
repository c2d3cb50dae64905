#include "runtime/cloned_binary.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"

extern char** environ;

namespace hoist::runtime {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

[[noreturn]] void exec_fd(int fd, char** argv) {
  ::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  throw_sys("execute", "read-only runtime copy");
}

// A read-only bind mount of /proc/self/exe, detached at once: only our fd keeps it alive.
UniqueFd readonly_view(const std::string& dir) {
  mkdir_all(dir, 0711);
  std::string tmpl = dir + "/.hoist-runtime.XXXXXX";
  int tfd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (tfd < 0) return {};
  ::close(tfd);
  UniqueFd out;
  if (::mount("/proc/self/exe", tmpl.c_str(), nullptr, MS_BIND, nullptr) == 0) {
    if (::mount(nullptr, tmpl.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0)
      out.reset(::open(tmpl.c_str(), O_PATH | O_CLOEXEC));
    ::umount2(tmpl.c_str(), MNT_DETACH);
  }
  ::unlink(tmpl.c_str());
  return out;
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

int sealed_exe_copy() {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  return sealed_copy(self.get()).release();
}

void ensure_cloned_binary(char** argv, const std::string& scratch_dir) {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_sys("open", "/proc/self/exe");
  struct statvfs sv;
  if (::fstatvfs(self.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY)) return;
  int seals = ::fcntl(self.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return;
  if (UniqueFd ro = readonly_view(scratch_dir)) exec_fd(ro.get(), argv);
  UniqueFd mem = sealed_copy(self.get());
  self.reset();
  exec_fd(mem.get(), argv);
}

}  // namespace hoist::runtime
