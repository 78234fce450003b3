// Where `netstructer call`, `list` and `describe` find the types of a
// service: the server's reflection service (the default), .proto files
// parsed here (--proto, --import-path), or a FileDescriptorSet (--protoset,
// as `protoc --include_imports --descriptor_set_out` writes it), for a
// server without reflection.
//
// Thread-compatible: one command uses it from one thread.
#ifndef NETSTRUCTER_TOOLS_DESCRIPTOR_SOURCE_H_
#define NETSTRUCTER_TOOLS_DESCRIPTOR_SOURCE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/compiler/importer.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor_database.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"

namespace netstructer::tools {

class DescriptorSource {
 public:
  // Asks the server (files fetched as symbols are looked up).
  static std::unique_ptr<DescriptorSource> FromReflection(
      std::shared_ptr<Channel> channel, CallOptions options);
  // Parses `files` (as imports name them, or paths on disk under an import
  // path), imports found under `import_paths` (none given: "." and each
  // file's directory) or among protobuf's well-known types.
  // INVALID_ARGUMENT with the parser's errors.
  static absl::StatusOr<std::unique_ptr<DescriptorSource>> FromProtoFiles(
      const std::vector<std::string>& files,
      std::vector<std::string> import_paths);
  // Reads FileDescriptorSets. NOT_FOUND for a missing file,
  // INVALID_ARGUMENT for one that does not parse or lacks an import.
  static absl::StatusOr<std::unique_ptr<DescriptorSource>> FromProtosets(
      const std::vector<std::string>& paths);

  ~DescriptorSource();
  DescriptorSource(const DescriptorSource&) = delete;
  DescriptorSource& operator=(const DescriptorSource&) = delete;

  // Makes `symbol` (a service, message, enum, or a method as
  // "pkg.Svc.Method") findable in pool(): for reflection, fetches its file
  // and imports. NOT_FOUND when nobody knows it; the reflection call's
  // error (UNIMPLEMENTED: the server has no reflection) otherwise.
  absl::Status Load(const std::string& symbol);
  const google::protobuf::DescriptorPool* pool() const { return pool_; }

  // Every method as "pkg.Service/Method": services in the server's order
  // (reflection) or the files' (local), each one's methods by name.
  absl::StatusOr<std::vector<std::string>> ListMethods();

  // Where the types came from, for messages: "the server's reflection",
  // "--proto files", "--protoset files".
  const char* origin() const { return origin_; }

 private:
  DescriptorSource() = default;
  absl::Status AddFile(const std::string& serialized);

  const char* origin_ = "";
  // Reflection.
  std::shared_ptr<Channel> channel_;
  CallOptions options_;
  std::set<std::string> file_names_;
  // Reflection and protosets: files, and the pool over them.
  google::protobuf::SimpleDescriptorDatabase database_;
  // --proto files: parsed from the tree, the well-known types from
  // protobuf's generated pool.
  std::unique_ptr<google::protobuf::compiler::DiskSourceTree> tree_;
  std::unique_ptr<google::protobuf::compiler::MultiFileErrorCollector> errors_;
  std::unique_ptr<google::protobuf::compiler::SourceTreeDescriptorDatabase>
      source_db_;
  std::unique_ptr<google::protobuf::DescriptorPoolDatabase> generated_db_;
  std::unique_ptr<google::protobuf::MergedDescriptorDatabase> merged_db_;
  // The pool over database_ or merged_db_ (declared after them: destroyed
  // first).
  std::unique_ptr<google::protobuf::DescriptorPool> own_pool_;
  std::vector<const google::protobuf::FileDescriptor*> files_;
  const google::protobuf::DescriptorPool* pool_ = nullptr;
};

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_DESCRIPTOR_SOURCE_H_
