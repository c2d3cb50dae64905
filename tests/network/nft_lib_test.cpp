// NftRunner (root): libnftables is loaded for the commands, stays loaded while they keep coming,
// and is unmapped from the process once they have stopped for the runner's linger; a command after
// that loads it again. libgmp, which libnftables and GnuTLS (libcurl's) share, keeps the allocator
// it had: libnftables' own would be gone with it.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/fd.h"
#include "network/nft_lib.h"
#include "test_files.h"

namespace net = hoist::network;
using ::testing::HasSubstr;

namespace {

bool nftables_mapped() { return hoist::test::read_file("/proc/self/maps").find("libnftables.so") != std::string::npos; }

// `nft` script in a memfd, named as nft reads it.
class Script {
 public:
  explicit Script(const std::string& text) : fd_(::memfd_create("nft-test", MFD_CLOEXEC)) {
    EXPECT_EQ(::write(fd_.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

 private:
  hoist::UniqueFd fd_;
};

}  // namespace

TEST(NftRunner, UnloadsTheLibraryOnceIdleAndLoadsItAgain) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_FALSE(nftables_mapped());
  // A table no one has: nft's own error, read from the kernel (nothing is changed).
  Script list("list table ip hoist_test_none_" + std::to_string(::getpid()) + "\n");
  {
    net::NftRunner nft(std::chrono::milliseconds(300));
    EXPECT_FALSE(nft.loaded());
    auto r = nft.run_file(list.path());
    EXPECT_NE(r.rc, 0);
    EXPECT_THAT(r.error, HasSubstr("No such file or directory"));
    EXPECT_TRUE(nft.loaded());
    EXPECT_TRUE(nftables_mapped());

    // Commands within the linger keep it loaded.
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      EXPECT_NE(nft.run_file(list.path()).rc, 0);
      EXPECT_TRUE(nft.loaded());
    }
    EXPECT_TRUE(hoist::test::until([&] { return !nft.loaded(); }, 3));
    EXPECT_FALSE(nftables_mapped());

    r = nft.run_file(list.path());
    EXPECT_THAT(r.error, HasSubstr("No such file or directory"));
    EXPECT_TRUE(nftables_mapped());
  }
  // The runner's end closes its session at once.
  EXPECT_FALSE(nftables_mapped());
}

TEST(NftRunner, LeavesLibgmpsAllocatorAsItWas) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  // Held here, as libcurl's GnuTLS holds it in the daemon after a pull.
  void* gmp = ::dlopen("libgmp.so.10", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(gmp, nullptr) << ::dlerror();
  using Alloc = void* (*)(std::size_t);
  using Realloc = void* (*)(void*, std::size_t, std::size_t);
  using Free = void (*)(void*, std::size_t);
  auto get = reinterpret_cast<void (*)(Alloc*, Realloc*, Free*)>(::dlsym(gmp, "__gmp_get_memory_functions"));
  ASSERT_NE(get, nullptr);
  Alloc alloc_before = nullptr, alloc = nullptr;
  Realloc realloc_before = nullptr, realloc = nullptr;
  Free free_before = nullptr, free = nullptr;
  get(&alloc_before, &realloc_before, &free_before);

  Script list("list table ip hoist_test_none_" + std::to_string(::getpid()) + "\n");
  {
    net::NftRunner nft(std::chrono::milliseconds(100));
    EXPECT_NE(nft.run_file(list.path()).rc, 0);
    get(&alloc, &realloc, &free);
    EXPECT_EQ(alloc, alloc_before);
    EXPECT_EQ(realloc, realloc_before);
    EXPECT_EQ(free, free_before);
  }
  EXPECT_FALSE(nftables_mapped());
  get(&alloc, &realloc, &free);
  EXPECT_EQ(alloc, alloc_before);
  void* p = alloc(64);  // libgmp's own allocator still works
  ASSERT_NE(p, nullptr);
  free(p, 64);
  ::dlclose(gmp);
}
