#include "cli/args.h"

namespace hoist::cli {

Parsed parse_flags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv, bool interspersed) {
  Parsed p;
  auto by_long = [&](const std::string& n) -> const FlagSpec* {
    for (auto& s : specs)
      if (s.name == n) return &s;
    return nullptr;
  };
  auto by_short = [&](char c) -> const FlagSpec* {
    for (auto& s : specs)
      if (s.shorthand == c) return &s;
    return nullptr;
  };
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      p.args.push_back(a);
      if (!interspersed) flags_done = true;
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a[1] == '-') {
      std::string name = a.substr(2), val;
      bool has_val = false;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        val = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_val = true;
      }
      auto* s = by_long(name);
      if (!s) throw FlagError("unknown flag: --" + name);
      if (s->value) {
        if (!has_val) {
          if (i + 1 >= argv.size()) throw FlagError("flag needs an argument: --" + name);
          val = argv[++i];
        }
      } else if (!has_val) {
        val = "true";
      } else if (val != "true" && val != "false" && val != "1" && val != "0") {
        throw FlagError("invalid argument \"" + val + "\" for \"--" + name + "\" flag: strconv.ParseBool: parsing \"" +
                        val + "\": invalid syntax");
      } else {
        val = (val == "1" || val == "true") ? "true" : "false";
      }
      p.values[s->name].push_back(val);
      continue;
    }
    for (size_t k = 1; k < a.size(); ++k) {
      auto* s = by_short(a[k]);
      if (!s) throw FlagError(std::string("unknown shorthand flag: '") + a[k] + "' in " + a);
      if (s->value) {
        std::string val;
        if (k + 1 < a.size()) {
          val = a.substr(k + 1);
          if (!val.empty() && val[0] == '=') val.erase(0, 1);
        } else {
          if (i + 1 >= argv.size())
            throw FlagError(std::string("flag needs an argument: '") + a[k] + "' in -" + a[k]);
          val = argv[++i];
        }
        p.values[s->name].push_back(val);
        break;
      }
      p.values[s->name].push_back("true");
    }
  }
  return p;
}

}  // namespace hoist::cli
