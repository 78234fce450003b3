// A small command-line parser for the netstructer CLI's subcommands:
// `--name VALUE`, `--name=VALUE`, boolean `--name`, repeated flags, and
// positional arguments. Unknown flags and missing values are usage errors.
#ifndef NETSTRUCTER_TOOLS_CLI_ARGS_H_
#define NETSTRUCTER_TOOLS_CLI_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netstructer::tools {

struct FlagSpec {
  std::set<std::string> with_value;  // e.g. {"key", "now"}
  std::set<std::string> boolean;     // e.g. {"verbose"}
};

// Thread-compatible value type.
class CliArgs {
 public:
  // INVALID_ARGUMENT naming the offending argument for an unknown flag or a
  // flag without its value.
  static absl::StatusOr<CliArgs> Parse(const std::vector<std::string>& args,
                                       const FlagSpec& spec);

  // The last value given for `name`, if any.
  std::optional<std::string> Get(const std::string& name) const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> GetAll(const std::string& name) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_CLI_ARGS_H_
