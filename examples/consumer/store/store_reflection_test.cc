// Reflection in a statically linked binary serves a service whose .proto
// defines nothing else.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"
#include "service/builtin/reflection.ns.h"
#include "store/service.ns.h"

namespace store {
namespace {

using netstructer::reflection::v1::FileContainingSymbolRequest;
using netstructer::reflection::v1::FileDescriptorResponse;
using netstructer::reflection::v1::ListServicesRequest;
using netstructer::reflection::v1::ListServicesResponse;
using netstructer::reflection::v1::Reflection;

class StoreService final : public Store::Service {
 public:
  absl::Status Get(netstructer::ServerContext*, const GetRequest* request,
                   GetReply* reply) override {
    reply->set_value("v:" + request->key());
    return absl::OkStatus();
  }
};

TEST(StoreReflectionTest, AServicesOnlyFileIsListedAndDescribed) {
  const netstructer::transport::FernetKey key =
      netstructer::transport::FernetKey::Generate().value();
  StoreService service;
  netstructer::ServerOptions server_options;
  server_options.keys = {key};
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  netstructer::ChannelOptions channel_options;
  channel_options.link.key = key;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);

  Reflection::Stub reflection(*channel);
  absl::StatusOr<ListServicesResponse> list =
      reflection.ListServices(ListServicesRequest(), options);
  ASSERT_TRUE(list.ok()) << list.status();
  bool listed = false;
  for (const auto& s : list->services()) {
    if (s.name() != "store.Store") continue;
    listed = true;
    ASSERT_EQ(s.methods_size(), 1);
    EXPECT_EQ(s.methods(0).input_type(), "store.GetRequest");
  }
  EXPECT_TRUE(listed) << list->DebugString();

  FileContainingSymbolRequest request;
  request.set_symbol("store.Store");
  absl::StatusOr<FileDescriptorResponse> files =
      reflection.FileContainingSymbol(request, options);
  ASSERT_TRUE(files.ok()) << files.status();
  bool described = false;  // The file and its dependencies, in some order.
  for (const std::string& bytes : files->file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.name() != "store/service.proto") continue;
    described = file.service_size() == 1 && file.service(0).name() == "Store";
  }
  EXPECT_TRUE(described);

  Store::Stub stub(*channel);
  GetRequest get;
  get.set_key("k");
  absl::StatusOr<GetReply> reply = stub.Get(get, options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->value(), "v:k");
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace store
