#include "netstructer/tools/cli_args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace netstructer::tools {

absl::StatusOr<CliArgs> CliArgs::Parse(const std::vector<std::string>& args,
                                       const FlagSpec& spec) {
  CliArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.positional_.insert(out.positional_.end(), args.begin() + i + 1,
                             args.end());
      break;
    }
    std::string name;
    if (auto alias = spec.short_names.find(arg); alias != spec.short_names.end()) {
      name = alias->second;
    } else if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      out.positional_.push_back(arg);
      continue;
    } else {
      name = arg.substr(2);
    }
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (spec.boolean.count(name) > 0) {
      if (value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value"));
      }
      out.values_.emplace(name, "true");
    } else if (spec.with_value.count(name) > 0) {
      if (!value.has_value()) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " needs a value"));
        }
        value = args[++i];
      }
      out.values_.emplace(name, *value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  return out;
}

std::optional<std::string> CliArgs::Get(const std::string& name) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;
}

std::vector<std::string> CliArgs::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseCliDuration(absl::string_view flag,
                                               absl::string_view text,
                                               bool allow_zero) {
  absl::Duration d;
  double seconds = 0;
  bool parsed = false;
  if (absl::SimpleAtod(text, &seconds)) {
    // Guarded: absl::Seconds of a huge or NaN double is not an error.
    parsed = seconds == seconds && seconds >= 0 && seconds <= 1e9;
    if (parsed) d = absl::Seconds(seconds);
  } else {
    parsed = absl::ParseDuration(text, &d);
  }
  // Capped at about 31 years: longer is a typo, and every wait stays far
  // from the clock types' limits.
  if (!parsed || d > absl::Seconds(1e9) || d < absl::ZeroDuration() ||
      (!allow_zero && d == absl::ZeroDuration())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": '", text, "' is not a duration ",
        allow_zero ? ">= 0" : "> 0",
        " (500ms, 2s, 1m, or a number of seconds)"));
  }
  return d;
}

namespace {
bool AskedFor(const std::vector<std::string>& args,
              std::initializer_list<absl::string_view> flags) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (std::find(flags.begin(), flags.end(), arg) != flags.end()) return true;
  }
  return false;
}
}  // namespace

bool WantsHelp(const std::vector<std::string>& args) {
  return AskedFor(args, {"--help", "-h"});
}

bool WantsVersion(const std::vector<std::string>& args) {
  return AskedFor(args, {"--version"});
}

}  // namespace netstructer::tools
