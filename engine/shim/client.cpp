#include "engine/shim/client.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/unix_socket.h"

namespace hoist::engine {

UniqueFd shim_connect(const std::string& state_dir) { return unix_connect(state_dir + "/" + std::string(kShimSocket)); }

namespace {

// Reads one line (without "\n"); "" plus false on EOF/timeout.
bool read_line(int fd, std::string& line, int timeout_ms) {
  line.clear();
  long long deadline = timeout_ms >= 0 ? monotonic_ms() + timeout_ms : 0;
  for (;;) {
    if (timeout_ms >= 0) {
      long long left = deadline - monotonic_ms();
      if (left <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
    }
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line += c;
  }
}

}  // namespace

std::string shim_request(const std::string& state_dir, const std::string& line, int timeout_ms) {
  UniqueFd s = shim_connect(state_dir);
  write_all(s.get(), line + "\n", state_dir + "/" + std::string(kShimSocket));
  std::string reply;
  if (!read_line(s.get(), reply, timeout_ms))
    throw Error("shim " + state_dir + ": no reply to \"" + line + "\"");
  return reply;
}

ShimStatus shim_status(const std::string& state_dir) { return parse_shim_status(shim_request(state_dir, "status")); }

static void expect_ok(const std::string& reply, const std::string& what) {
  if (reply != "ok") throw Error(what + ": " + (reply.rfind("error ", 0) == 0 ? reply.substr(6) : reply));
}

void shim_resize(const std::string& state_dir, unsigned rows, unsigned cols) {
  expect_ok(shim_request(state_dir, "resize " + std::to_string(rows) + " " + std::to_string(cols)), "resize");
}

void shim_close_stdin(const std::string& state_dir) { expect_ok(shim_request(state_dir, "close-stdin"), "close stdin"); }

UniqueFd shim_attach(const std::string& state_dir, bool in, bool out, bool err, bool close_stdin) {
  AttachRequest r;
  r.in = in;
  r.out = out;
  r.err = err;
  r.close_stdin = close_stdin;
  return shim_attach(state_dir, r);
}

UniqueFd shim_attach(const std::string& state_dir, const AttachRequest& r) {
  UniqueFd s = shim_connect(state_dir);
  std::string req = "attach";
  if (r.in) req += " stdin";
  if (r.out) req += " stdout";
  if (r.err) req += " stderr";
  if (r.close_stdin) req += " close-stdin";
  if (r.mux) req += *r.mux ? " mux" : " raw";
  if (!r.detach_keys.empty()) req += " detach=" + encode_detach_keys(r.detach_keys);
  write_all(s.get(), req + "\n", state_dir + "/" + std::string(kShimSocket));
  std::string reply;
  if (!read_line(s.get(), reply, 5000)) throw Error("attach " + state_dir + ": the shim did not answer");
  expect_ok(reply, "attach");
  return s;
}

UniqueFd shim_wait_begin(const std::string& state_dir) {
  UniqueFd s = shim_connect(state_dir);
  write_all(s.get(), "wait\n", state_dir + "/" + std::string(kShimSocket));
  return s;
}

std::optional<ShimExit> shim_wait_read(int fd) {
  std::string line;
  if (!read_line(fd, line, -1) || line.empty()) return std::nullopt;
  return parse_shim_status(line).exit;
}

std::optional<ShimExit> read_exit_file(const std::string& state_dir) {
  std::string text;
  try {
    text = read_file(state_dir + "/" + std::string(kShimExitFile));
  } catch (...) {
    return std::nullopt;
  }
  if (text.find("\"exit_code\":") == std::string::npos) return std::nullopt;
  return parse_shim_status(text).exit;
}

}  // namespace hoist::engine
