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
#include "absl/time/time.h"

namespace netstructer::tools {

struct FlagSpec {
  std::set<std::string> with_value;  // e.g. {"key", "now"}
  std::set<std::string> boolean;     // e.g. {"verbose"}
  // Short forms: {"-d", "data"} makes `-d X` mean `--data X`.
  std::map<std::string, std::string> short_names;
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

// The one duration syntax of every flag that takes one: "500ms", "2s",
// "1m", "1h30m" (absl::ParseDuration), or a bare number of seconds ("2",
// "0.5"). Finite; above zero, or zero too with `allow_zero`.
// INVALID_ARGUMENT naming `flag` otherwise.
absl::StatusOr<absl::Duration> ParseCliDuration(absl::string_view flag,
                                               absl::string_view text,
                                               bool allow_zero = false);

// True when the arguments ask for help (`--help` or `-h`) before any `--`.
bool WantsHelp(const std::vector<std::string>& args);
// True when they ask for `--version` before any `--`.
bool WantsVersion(const std::vector<std::string>& args);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_CLI_ARGS_H_
