#include "netstructer/tools/descriptor_source.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.pb.h"
#include "netstructer/tools/reflection_client.h"
#include "service/builtin/reflection.ns.h"

namespace netstructer::tools {
namespace {

namespace pb = google::protobuf;

// protoc's messages, one per line, for the INVALID_ARGUMENT of a .proto
// file that does not parse.
class ErrorText : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    if (line < 0) {  // A file-level error ("File not found.").
      absl::StrAppend(&text_, filename, ": ", message, "\n");
    } else {
      absl::StrAppend(&text_, filename, ":", line + 1, ":", column + 1, ": ",
                      message, "\n");
    }
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

void AppendMethodsOf(const pb::FileDescriptor& file,
                     std::vector<std::string>* out) {
  for (int s = 0; s < file.service_count(); ++s) {
    const pb::ServiceDescriptor* service = file.service(s);
    std::vector<std::string> methods;
    for (int m = 0; m < service->method_count(); ++m) {
      methods.push_back(service->method(m)->name());
    }
    std::sort(methods.begin(), methods.end());
    for (const std::string& m : methods) {
      out->push_back(absl::StrCat(service->full_name(), "/", m));
    }
  }
}

}  // namespace

DescriptorSource::~DescriptorSource() = default;

std::unique_ptr<DescriptorSource> DescriptorSource::FromReflection(
    std::shared_ptr<Channel> channel, CallOptions options) {
  std::unique_ptr<DescriptorSource> source(new DescriptorSource());
  source->origin_ = "the server's reflection";
  source->channel_ = std::move(channel);
  source->options_ = std::move(options);
  source->own_pool_ = std::make_unique<pb::DescriptorPool>(&source->database_);
  source->pool_ = source->own_pool_.get();
  return source;
}

absl::StatusOr<std::unique_ptr<DescriptorSource>>
DescriptorSource::FromProtoFiles(const std::vector<std::string>& files,
                                 std::vector<std::string> import_paths) {
  std::unique_ptr<DescriptorSource> source(new DescriptorSource());
  source->origin_ = "the --proto files";
  // Without --import-path: the current directory, and each file's own (so
  // `--proto ./x.proto` and `--proto /abs/x.proto` work as protoc's do).
  if (import_paths.empty()) {
    import_paths.push_back(".");
    for (const std::string& file : files) {
      const size_t slash = file.rfind('/');
      if (slash != std::string::npos) {
        import_paths.push_back(slash == 0 ? "/" : file.substr(0, slash));
      }
    }
  }
  source->tree_ = std::make_unique<pb::compiler::DiskSourceTree>();
  for (const std::string& path : import_paths) source->tree_->MapPath("", path);
  auto errors = std::make_unique<ErrorText>();
  ErrorText* error_text = errors.get();
  source->errors_ = std::move(errors);
  source->source_db_ =
      std::make_unique<pb::compiler::SourceTreeDescriptorDatabase>(
          source->tree_.get());
  source->source_db_->RecordErrorsTo(source->errors_.get());
  // The well-known types (google/protobuf/*.proto) come with protobuf, as
  // grpcurl's do: an import of one needs no --import-path.
  source->generated_db_ = std::make_unique<pb::DescriptorPoolDatabase>(
      *pb::DescriptorPool::generated_pool());
  source->merged_db_ = std::make_unique<pb::MergedDescriptorDatabase>(
      source->source_db_.get(), source->generated_db_.get());
  source->own_pool_ = std::make_unique<pb::DescriptorPool>(
      source->merged_db_.get(), source->source_db_->GetValidationErrorCollector());
  for (const std::string& file : files) {
    // A path on disk (./x.proto, /abs/x.proto) is named as its import path.
    std::string name = file;
    std::string virtual_file;
    std::string shadowing;
    if (source->tree_->DiskFileToVirtualFile(file, &virtual_file, &shadowing) ==
        pb::compiler::DiskSourceTree::SUCCESS) {
      name = virtual_file;
    }
    const pb::FileDescriptor* parsed = source->own_pool_->FindFileByName(name);
    if (parsed == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--proto ", file, " (import paths: ", absl::StrJoin(import_paths, ", "),
          "): ",
          error_text->text().empty() ? "not found under the import paths\n"
                                     : error_text->text()));
    }
    source->files_.push_back(parsed);
  }
  source->pool_ = source->own_pool_.get();
  return source;
}

absl::StatusOr<std::unique_ptr<DescriptorSource>>
DescriptorSource::FromProtosets(const std::vector<std::string>& paths) {
  std::unique_ptr<DescriptorSource> source(new DescriptorSource());
  source->origin_ = "the --protoset files";
  std::vector<std::string> names;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("--protoset ", path, ": cannot open it"));
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    pb::FileDescriptorSet set;
    if (!set.ParseFromString(bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--protoset ", path, " is not a FileDescriptorSet (protoc "
          "--include_imports --descriptor_set_out writes one)"));
    }
    for (const pb::FileDescriptorProto& file : set.file()) {
      if (!source->file_names_.insert(file.name()).second) continue;
      if (!source->database_.Add(file)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--protoset ", path, ": ", file.name(), " conflicts with another file"));
      }
      names.push_back(file.name());
    }
  }
  source->own_pool_ = std::make_unique<pb::DescriptorPool>(&source->database_);
  source->pool_ = source->own_pool_.get();
  for (const std::string& name : names) {
    const pb::FileDescriptor* file = source->pool_->FindFileByName(name);
    if (file == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--protoset: ", name, " does not build (an import missing from the "
          "set? protoc's --include_imports adds them)"));
    }
    source->files_.push_back(file);
  }
  return source;
}

absl::Status DescriptorSource::AddFile(const std::string& serialized) {
  pb::FileDescriptorProto file;
  if (!file.ParseFromString(serialized)) {
    return absl::DataLossError(
        "the server's reflection sent a file descriptor that does not parse");
  }
  if (!file_names_.insert(file.name()).second) return absl::OkStatus();
  if (!database_.Add(file)) {
    return absl::DataLossError(absl::StrCat(
        "the server's reflection sent ", file.name(),
        ", which conflicts with another file it sent"));
  }
  return absl::OkStatus();
}

absl::Status DescriptorSource::Load(const std::string& symbol) {
  pb::FileDescriptorProto found;
  if (channel_ == nullptr) {
    // Local files: the pool knows what it knows.
    const pb::DescriptorPool& p = *pool_;
    const bool known =
        p.FindServiceByName(symbol) != nullptr ||
        p.FindMethodByName(symbol) != nullptr ||
        p.FindMessageTypeByName(symbol) != nullptr ||
        p.FindEnumTypeByName(symbol) != nullptr ||
        p.FindFieldByName(symbol) != nullptr ||
        p.FindEnumValueByName(symbol) != nullptr;
    if (!known) {
      return absl::NotFoundError(
          absl::StrCat("no symbol ", symbol, " in ", origin_));
    }
    return absl::OkStatus();
  }
  if (database_.FindFileContainingSymbol(symbol, &found)) return absl::OkStatus();
  // The symbol itself, else its parent (a method, a nested type).
  std::string asked = symbol;
  for (;;) {
    reflection::v1::FileContainingSymbolRequest request;
    request.set_symbol(asked);
    absl::StatusOr<reflection::v1::FileDescriptorResponse> files =
        reflection::v1::Reflection::Stub(channel_).FileContainingSymbol(
            request, options_);
    if (files.ok()) {
      for (const std::string& bytes : files->file_descriptor_proto()) {
        if (absl::Status s = AddFile(bytes); !s.ok()) return s;
      }
      if (database_.FindFileContainingSymbol(symbol, &found)) {
        return absl::OkStatus();
      }
      break;
    }
    if (files.status().code() != absl::StatusCode::kNotFound) {
      return ExplainReflectionError(files.status());
    }
    const size_t dot = asked.rfind('.');
    if (dot == std::string::npos) break;
    asked.resize(dot);
  }
  return absl::NotFoundError(
      absl::StrCat("the server knows no symbol ", symbol));
}

absl::StatusOr<std::vector<std::string>> DescriptorSource::ListMethods() {
  if (channel_ != nullptr) return tools::ListMethods(channel_, options_);
  std::vector<std::string> out;
  for (const pb::FileDescriptor* file : files_) AppendMethodsOf(*file, &out);
  return out;
}

}  // namespace netstructer::tools
