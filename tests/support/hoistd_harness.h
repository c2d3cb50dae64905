// A private hoistd for one test: its own data root, exec root and socket in a temp dir, and its own
// networking: a default bridge device "hst<hex>", a subnet from 10.200.0.0/13 for it and a pool
// from 10.160.0.0/13 for its networks, an nftables table "hoist_t<hex>". Killed (process group,
// SIGTERM then SIGKILL) and removed by the destructor, even when the test fails, with its bridges,
// table and network namespaces.
//
//   hoist::test::Hoistd d;                       // started and answering /_ping
//   auto r = d.docker({"images"});               // the docker CLI against it (private DOCKER_CONFIG)
//   auto h = d.http("GET", "/v1.41/images/json");  // libcurl over the socket
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "registry_harness.h"

namespace hoist::test {

struct HttpResult {
  long status = 0;        // 0: transport error (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
};

class Hoistd {
 public:
  explicit Hoistd(const std::vector<std::string>& extra_args = {});
  ~Hoistd();
  Hoistd(const Hoistd&) = delete;
  Hoistd& operator=(const Hoistd&) = delete;

  const std::string& dir() const { return dir_.path(); }
  std::string socket() const { return dir() + "/hoist.sock"; }
  std::string host() const { return "unix://" + socket(); }
  std::string data_root() const { return dir() + "/data"; }
  std::string exec_root() const { return dir() + "/exec"; }
  std::string log() const;
  const std::string& bridge() const { return bridge_; }      // the default bridge's device
  const std::string& nft_table() const { return table_; }    // family ip
  const std::string& bip() const { return bip_; }            // its gateway/prefix
  std::string pool_prefix() const { return pool_prefix_; }   // "10.16x.": new networks' subnets
  // The networking flags this daemon runs with (for a test that starts another hoistd on its roots).
  std::vector<std::string> network_args() const;
  bool running() { return proc_.running(); }
  void stop() { proc_.stop(); }
  pid_t pid() const { return proc_.pid(); }
  // A crash: SIGKILL to hoistd alone (its shims and containers live on), reaped.
  void kill9();
  // A new hoistd with the same arguments on the same roots and socket (after stop() or kill9()),
  // answering /_ping; throws with the log when it does not come up.
  void restart();

  // docker -H unix://... args (DOCKER_CONFIG is a private dir).
  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120) const;
  // python3 -c script, with HOIST_HOST set to host().
  CmdResult python(const std::string& script, int timeout_s = 120) const;
  // One HTTP request over the socket. `abort_after` > 0: stop reading after that many body bytes.
  HttpResult http(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::vector<std::string>& headers = {}, long abort_after = 0, int timeout_s = 60) const;

 private:
  void launch();
  void cleanup_network();
  TempDir dir_;
  std::string bridge_, table_, bip_, pool_prefix_;
  // The cgroup parent the harness chose when the test gave none (removed by the destructor);
  // without it the daemon's default /hoist would stay behind on the machine.
  std::string own_cgroup_parent_;
  std::vector<std::string> network_args_;
  std::vector<std::string> argv_;
  ChildProcess proc_;
};

// The fixtures dir (busybox-rootfs.tar, busybox-oci/), made once per test binary.
std::string fixtures_dir();
// A Debian 12 rootfs with redis-server, redis-tools and busybox, as a tarball for `docker import`
// (scripts/make-debian-fixtures.sh; in the fixtures dir, made once per test binary; throws when
// it cannot be made).
std::string debian_rootfs_tar();

// A connected Unix stream socket to `sock` (-1 on failure); the caller closes it.
int connect_unix(const std::string& sock);
// Sends `req` as is on a new connection and returns what comes back, up to the end of a response
// with Content-Length, EOF, or `timeout_ms` without a byte.
std::string raw_http(const std::string& sock, const std::string& req, int timeout_ms = 5000);
// The same on an open connection `fd` (which stays open, for a next request).
std::string raw_http_on(int fd, const std::string& req, int timeout_ms = 5000);

// What a test's daemon may leave on the machine: mounts under its dir, hoist-shim processes
// serving its exec root, cgroups under `cgroup_parent` (in any hierarchy).
struct Leftovers {
  std::vector<std::string> mounts;   // mount points
  std::vector<pid_t> shims;
  std::vector<std::string> cgroups;  // cgroup directories
  bool empty() const { return mounts.empty() && shims.empty() && cgroups.empty(); }
  std::string describe() const;
};
Leftovers leftovers(const Hoistd& d, const std::string& cgroup_parent);
// Removes what a failed test left: kills the containers' processes and shims, unmounts
// everything under the test dir, removes the cgroups under `cgroup_parent`.
void force_cleanup(const Hoistd& d, const std::string& cgroup_parent);
// `docker rm -f` of every container, if the daemon runs (a test's end, before force_cleanup).
void remove_all_containers(Hoistd& d);

// A test with a private hoistd (cgroup parent /hoist-test-<pid>-<suffix>) and the busybox image
// imported as bb:1; skipped without root or the docker CLI. Its containers, mounts and cgroups are
// removed after it, also when it fails (then the tail of the daemon's log is printed).
class DaemonTest : public ::testing::Test {
 protected:
  explicit DaemonTest(std::string suffix) : suffix_(std::move(suffix)) {}
  std::string cgroup_parent() const;
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<Hoistd> d_;

 private:
  std::string suffix_;
};

}  // namespace hoist::test
