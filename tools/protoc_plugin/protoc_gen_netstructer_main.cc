// protoc-gen-netstructer: the protoc plugin entry point. All the work is in
// generator.h; see README.md for how to run it.

#include <google/protobuf/compiler/plugin.h>

#include "netstructer/tools/protoc_plugin/generator.h"

int main(int argc, char* argv[]) {
  netstructer::protoc_plugin::NetStructerGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
