// Registry credentials in the client's config.json (docker's "auths"): base64, the config file, the
// registry of a reference, the X-Registry-Auth header.
#include "cli/commands/auth.h"

#include "common/file.h"

namespace hoist::cli {

std::string b64(std::string_view in, bool url) {
  static const char* std_t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* url_t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* t = url ? url_t : std_t;
  std::string o;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += t[(v >> 6) & 63];
    o += t[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += t[(v >> 6) & 63];
    o += '=';
  }
  return o;
}

std::string unb64(std::string_view in) {
  std::string o;
  unsigned v = 0;
  int bits = 0;
  for (char ch : in) {
    int d;
    if (ch >= 'A' && ch <= 'Z') d = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') d = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') d = ch - '0' + 52;
    else if (ch == '+' || ch == '-') d = 62;
    else if (ch == '/' || ch == '_') d = 63;
    else continue;
    v = v << 6 | (unsigned)d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o += (char)((v >> bits) & 0xFF);
    }
  }
  return o;
}

const char* kDefaultRegistry = "https://index.docker.io/v1/";

std::string config_file(Ctx& ctx) { return ctx.config_dir + "/config.json"; }

json load_config(Ctx& ctx) {
  try {
    return json::parse(read_file(config_file(ctx)));
  } catch (...) {
    return json::object();
  }
}

std::string registry_of(const std::string& ref) {
  auto slash = ref.find('/');
  if (slash == std::string::npos) return kDefaultRegistry;
  std::string first = ref.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return kDefaultRegistry;
  if (first == "docker.io" || first == "index.docker.io") return kDefaultRegistry;
  return first;
}

std::map<std::string, std::string> auth_header(Ctx& ctx, const std::string& ref) {
  auto cfg = load_config(ctx);
  auto reg = registry_of(ref);
  json a = {{"serveraddress", reg}};
  if (cfg.contains("auths") && cfg["auths"].contains(reg) && cfg["auths"][reg].contains("auth")) {
    auto up = unb64(cfg["auths"][reg]["auth"].get<std::string>());
    auto c = up.find(':');
    if (c != std::string::npos) {
      a["username"] = up.substr(0, c);
      a["password"] = up.substr(c + 1);
    }
  }
  return {{"X-Registry-Auth", b64(a.dump(), true)}};
}

}  // namespace hoist::cli
