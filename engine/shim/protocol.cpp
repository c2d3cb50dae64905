#include "engine/shim/protocol.h"

#include <cstdlib>
#include <string>

#include "common/error.h"
#include "common/strings.h"

namespace hoist::engine {

namespace {

std::string json_field(const std::string& js, const std::string& key) {
  auto k = js.find("\"" + key + "\":");
  if (k == std::string::npos) return "";
  std::size_t i = k + key.size() + 3;
  if (i < js.size() && js[i] == '"') {
    auto e = js.find('"', i + 1);
    return js.substr(i + 1, e == std::string::npos ? std::string::npos : e - i - 1);
  }
  auto e = js.find_first_of(",}", i);
  return std::string(trim(js.substr(i, e == std::string::npos ? std::string::npos : e - i)));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string exit_status_json(const ShimExit& e) {
  return "{\"running\":false,\"exit_code\":" + std::to_string(e.exit_code) + ",\"exited_at\":\"" + e.exited_at +
         "\",\"oom_killed\":" + (e.oom_killed ? "true" : "false") + "}";
}

ShimStatus parse_shim_status(const std::string& js) {
  ShimStatus st;
  st.running = json_field(js, "running") == "true";
  std::string pid = json_field(js, "pid");
  if (!pid.empty()) st.pid = static_cast<pid_t>(std::atoll(pid.c_str()));
  st.exit.exit_code = std::atoi(json_field(js, "exit_code").c_str());
  st.exit.exited_at = json_field(js, "exited_at");
  st.exit.oom_killed = json_field(js, "oom_killed") == "true";
  return st;
}

std::string encode_detach_keys(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char k : bytes) {
    out += digits[k >> 4];
    out += digits[k & 15];
  }
  return out;
}

std::string decode_detach_keys(std::string_view hex) {
  std::string keys;
  for (std::size_t k = 0; k + 1 < hex.size(); k += 2) {
    int hi = hex_value(hex[k]), lo = hex_value(hex[k + 1]);
    if (hi >= 0 && lo >= 0) keys += static_cast<char>(hi * 16 + lo);
  }
  return keys;
}

std::string detach_key_bytes(std::string_view spec) {
  // Docker's names: ctrl-@, ctrl-a ... ctrl-z, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_ (0 to 31).
  static constexpr std::string_view ctrl_names = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
  std::string out;
  for (std::size_t pos = 0;;) {
    auto comma = spec.find(',', pos);
    std::string_view key = spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (key.size() == 1) {
      out += key[0];
    } else if (key.size() == 6 && key.substr(0, 5) == "ctrl-" && ctrl_names.find(key[5]) != std::string_view::npos) {
      out += static_cast<char>(ctrl_names.find(key[5]));
    } else if (key == "DEL") {
      out += '\x7f';
    } else {
      throw Error("unknown character: '" + std::string(key) + "'");
    }
    if (comma == std::string_view::npos) return out;
    pos = comma + 1;
  }
}

bool DetachScanner::feed(std::string_view in, std::string& out) {
  for (char b : in) {
    if (keys_.empty()) {
      out += b;
      continue;
    }
    if (b == keys_[matched_]) {
      if (++matched_ == keys_.size()) {
        matched_ = 0;
        return true;
      }
      continue;
    }
    // Not the sequence after all: what was held back goes through, and this byte may start it.
    out.append(keys_, 0, matched_);
    matched_ = 0;
    if (b == keys_[0]) {
      if (keys_.size() == 1) return true;
      matched_ = 1;
    } else {
      out += b;
    }
  }
  return false;
}

}  // namespace hoist::engine
