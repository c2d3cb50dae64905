// Compose's variable interpolation in one string: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:+replacement}, ${VAR+replacement}, ${VAR:?error}, ${VAR?error}; defaults, replacements and
// error texts may hold further interpolations (nested braces are matched). Names are
// [_a-zA-Z][_a-zA-Z0-9]*. A `$` followed by anything else stays as it is; `${` without a valid
// name and closing brace is an invalid template.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hoist::compose {

// The value of a variable, nullopt when it is unset.
using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

// `${`…: the whole template, as compose names it: "Invalid template: \"${\"".
class InvalidTemplate : public Error {
 public:
  explicit InvalidTemplate(std::string tmpl) : Error("Invalid template: \"" + tmpl + "\""), tmpl_(std::move(tmpl)) {}
  const std::string& tmpl() const { return tmpl_; }

 private:
  std::string tmpl_;
};

// ${V:?reason} with V unset (or empty): "required variable V is missing a value: reason".
class MissingRequired : public Error {
 public:
  using Error::Error;
};

// The longest result interpolate() makes (values may repeat a variable many times).
inline constexpr std::size_t kMaxInterpolated = 16u << 20;

// Substitutes every variable of `tmpl`. A result longer than kMaxInterpolated is an Error. Unset variables used without a default become "" and
// their names are appended to `unset` (when given) for the caller's warning.
std::string interpolate(std::string_view tmpl, const Lookup& lookup, std::vector<std::string>* unset = nullptr);

}  // namespace hoist::compose
