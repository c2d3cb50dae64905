// RUN --mount values, as BuildKit's instructions/commands_runmount.go reads them.
#include <cctype>
#include <cmath>
#include <limits>

#include "builder/go_text.h"
#include "builder/instructions.h"
#include "common/error.h"

namespace hoist::builder {

const char* mount_type_name(MountType t) {
  switch (t) {
    case MountType::Bind: return "bind";
    case MountType::Cache: return "cache";
    case MountType::Tmpfs: return "tmpfs";
    case MountType::Secret: return "secret";
    case MountType::Ssh: return "ssh";
  }
  return "bind";
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One line of CSV, as github.com/tonistiigi/go-csvvalue (encoding/csv's rules, strict quotes).
std::vector<std::string> csv_fields(std::string line) {
  if (!line.empty() && line.back() == '\n') {
    line.pop_back();
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  if (line.empty()) throw InvalidArgument("failed to parse csv mounts: EOF");
  auto fail = [](std::size_t pos, const char* what) {
    throw InvalidArgument("failed to parse csv mounts: parse error on line 1, column " + std::to_string(pos + 1) + ": " +
                          what);
  };
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    if (pos >= line.size() || line[pos] != '"') {
      auto comma = line.find(',', pos);
      std::string field = line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      auto q = field.find('"');
      if (q != std::string::npos) fail(pos + q, "bare \" in non-quoted-field");
      out.push_back(field);
      if (comma == std::string::npos) break;
      pos = comma + 1;
      continue;
    }
    ++pos;  // the opening quote
    std::string field;
    bool more = false;  // a comma follows the closing quote
    for (;;) {
      auto q = line.find('"', pos);
      if (q == std::string::npos) fail(pos, "extraneous or missing \" in quoted-field");
      field.append(line, pos, q - pos);
      pos = q + 1;
      if (pos < line.size() && line[pos] == '"') {  // "" is a quote
        field += '"';
        ++pos;
        continue;
      }
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
        more = true;
        break;
      }
      if (pos >= line.size()) break;
      fail(pos - 1, "extraneous or missing \" in quoted-field");
    }
    out.push_back(field);
    if (!more) return out;
  }
  return out;
}

std::optional<bool> parse_bool(const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(const std::string& v, int base) {
  if (v.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    int d = c >= '0' && c <= '9' ? c - '0' : 99;
    if (d >= base) return std::nullopt;
    n = n * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    if (n > 0xFFFFFFFFull) return std::nullopt;  // bit size 32
  }
  return n;
}

// go-units RAMInBytes: "64m", "1.5g", "100", "2KiB" with 1024 multiples.
std::optional<std::int64_t> ram_in_bytes(const std::string& s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i > start;
  };
  if (!digits()) return std::nullopt;
  while (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return std::nullopt;
  }
  std::string num = s.substr(0, i);
  if (num.find('.') != num.rfind('.')) return std::nullopt;  // ParseFloat refuses "1.2.3"
  if (i < s.size() && s[i] == ' ') ++i;
  double mul = 1;
  if (i < s.size()) {
    switch (std::tolower(static_cast<unsigned char>(s[i]))) {
      case 'k': mul = 1024.0; ++i; break;
      case 'm': mul = 1024.0 * 1024; ++i; break;
      case 'g': mul = 1024.0 * 1024 * 1024; ++i; break;
      case 't': mul = 1024.0 * 1024 * 1024 * 1024; ++i; break;
      case 'p': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; ++i; break;
    }
  }
  if (i < s.size() && (s[i] == 'i' || s[i] == 'I')) ++i;
  if (i < s.size() && (s[i] == 'b' || s[i] == 'B')) ++i;
  if (i != s.size()) return std::nullopt;
  double v = std::strtod(num.c_str(), nullptr) * mul;
  if (!std::isfinite(v) || v >= 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

}  // namespace

Mount parse_mount(const std::string& value, const std::function<std::string(const std::string&)>& expand) {
  auto fields = csv_fields(value);
  Mount m;
  bool ro_auto = true;
  bool sharing_set = false;
  for (auto& field : fields) {
    auto eq = field.find('=');
    std::string key = lower(field.substr(0, eq));
    std::string v = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (eq == std::string::npos) {
      if (!expand) continue;  // evaluated later
      if (key == "readonly" || key == "ro") {
        m.read_only = true;
        ro_auto = false;
      } else if (key == "readwrite" || key == "rw") {
        m.read_only = false;
        ro_auto = false;
      } else if (key == "required") {
        if (m.type != MountType::Secret && m.type != MountType::Ssh)
          throw InvalidArgument("unexpected key '" + key + "' for mount type '" + mount_type_name(m.type) + "'");
        m.required = true;
      } else {
        throw InvalidArgument("invalid field '" + field + "' must be a key=value pair");
      }
      continue;
    }
    if (expand) {
      v = expand(v);
    } else {
      if (key == "from") {
        auto d = v.find('$');
        if (d != std::string::npos && d != v.size() - 1)
          throw InvalidArgument("'" + key + "' doesn't support variable expansion, define alias stage instead");
        m.from = v;  // known now: the planner's dependency
      }
      continue;
    }
    if (key == "type") {
      std::string t = lower(v);
      if (t == "bind") m.type = MountType::Bind;
      else if (t == "cache") m.type = MountType::Cache;
      else if (t == "tmpfs") m.type = MountType::Tmpfs;
      else if (t == "secret") m.type = MountType::Secret;
      else if (t == "ssh") m.type = MountType::Ssh;
      else throw InvalidArgument("unsupported mount type " + go::quote(v));
    } else if (key == "from") {
      m.from = v;
    } else if (key == "source" || key == "src") {
      m.source = v;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = v;
    } else if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw") {
      auto b = parse_bool(v);
      if (!b) throw InvalidArgument("invalid value for " + key + ": " + v);
      m.read_only = (key == "readonly" || key == "ro") ? *b : !*b;
      ro_auto = false;
    } else if (key == "required") {
      if (m.type != MountType::Secret && m.type != MountType::Ssh)
        throw InvalidArgument("unexpected key '" + key + "' for mount type '" + mount_type_name(m.type) + "'");
      auto b = parse_bool(v);
      if (!b) throw InvalidArgument("invalid value for " + key + ": " + v);
      m.required = *b;
    } else if (key == "size") {
      if (m.type != MountType::Tmpfs)
        throw InvalidArgument("unexpected key '" + key + "' for mount type '" + mount_type_name(m.type) + "'");
      auto n = ram_in_bytes(v);
      if (!n) throw InvalidArgument("invalid value for " + key + ": " + v);
      m.size_limit = *n;
    } else if (key == "id") {
      m.cache_id = v;
    } else if (key == "sharing") {
      std::string s = lower(v);
      if (s != "shared" && s != "private" && s != "locked")
        throw InvalidArgument("unsupported sharing value " + go::quote(v));
      m.sharing = s;
      sharing_set = true;
    } else if (key == "mode") {
      auto n = parse_uint(v, 8);
      if (!n) throw InvalidArgument("invalid value " + v + " for mode");
      m.mode = *n;
    } else if (key == "uid") {
      auto n = parse_uint(v, 10);
      if (!n) throw InvalidArgument("invalid value " + v + " for uid");
      m.uid = *n;
    } else if (key == "gid") {
      auto n = parse_uint(v, 10);
      if (!n) throw InvalidArgument("invalid value " + v + " for gid");
      m.gid = *n;
    } else if (key == "env") {
      m.env = v;
    } else {
      throw InvalidArgument("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  if (!expand) return m;
  bool file_info = m.type == MountType::Secret || m.type == MountType::Ssh || m.type == MountType::Cache;
  if (!file_info) {
    auto q = go::quote(mount_type_name(m.type));
    if (m.mode) throw InvalidArgument("mode not allowed for " + q + " type mounts");
    if (m.uid) throw InvalidArgument("uid not allowed for " + q + " type mounts");
    if (m.gid) throw InvalidArgument("gid not allowed for " + q + " type mounts");
  }
  if (ro_auto) m.read_only = !(m.type == MountType::Cache || m.type == MountType::Tmpfs);
  if (m.type == MountType::Secret) {
    if (!m.from.empty()) throw InvalidArgument("secret mount should not have a from");
    if (sharing_set) throw InvalidArgument("secret mount should not define sharing");
    if (m.source.empty() && m.target.empty() && m.cache_id.empty())
      throw InvalidArgument("invalid secret mount. one of source, target required");
    if (!m.source.empty() && !m.cache_id.empty()) throw InvalidArgument("both source and id can't be set");
  }
  if (sharing_set && m.type != MountType::Cache)
    throw InvalidArgument(std::string("invalid cache sharing set for ") + mount_type_name(m.type) + " mount");
  return m;
}

}  // namespace hoist::builder
