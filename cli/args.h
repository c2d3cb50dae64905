// docker-style (pflag) argument parsing: --long, --long=v, -s v, -sv, combined -it, bool
// flags with =true/false, repeated flags, "--" ending flags.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace hoist::cli {

class FlagError : public Error {
 public:
  using Error::Error;
};

struct FlagSpec {
  std::string name;     // long name without "--"
  char shorthand = 0;   // 0: none
  bool value = false;   // takes a value
};

struct Parsed {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> args;
  bool has(const std::string& n) const { return values.count(n) != 0; }
  bool flag(const std::string& n) const {
    auto it = values.find(n);
    return it != values.end() && it->second.back() != "false";
  }
  std::string get(const std::string& n, const std::string& def = "") const {
    auto it = values.find(n);
    return it == values.end() ? def : it->second.back();
  }
  std::vector<std::string> all(const std::string& n) const {
    auto it = values.find(n);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// `interspersed` false: the first positional argument ends the flags (run, exec).
Parsed parse_flags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv, bool interspersed = true);

}  // namespace hoist::cli
