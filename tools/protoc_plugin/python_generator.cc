#include "netstructer/tools/protoc_plugin/python_generator.h"

#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace netstructer::protoc_plugin {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using google::protobuf::compiler::GeneratorContext;

bool IsPythonKeyword(const std::string& name) {
  static const std::set<std::string>* const kKeywords = new std::set<std::string>{
      "False", "None", "True", "and", "as", "assert", "async", "await",
      "break", "class", "continue", "def", "del", "elif", "else", "except",
      "finally", "for", "from", "global", "if", "import", "in", "is",
      "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
      "while", "with", "yield"};
  return kKeywords->count(name) > 0;
}

std::string ReplaceAll(std::string text, const std::string& from,
                       const std::string& to) {
  size_t at = 0;
  while ((at = text.find(from, at)) != std::string::npos) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

// "pkg.Outer.Inner" in file of package "pkg" -> "Outer.Inner".
std::string RelativeName(const Descriptor* message) {
  const std::string& package = message->file()->package();
  const std::string& full = message->full_name();
  return package.empty() ? full : full.substr(package.size() + 1);
}

// module alias + "." + class path of a message, registering its module.
std::string MessagePath(const Descriptor* message,
                        std::map<std::string, std::string>* imports) {
  const std::string module = PythonModuleName(message->file()->name());
  const std::string alias = PythonModuleAlias(module);
  (*imports)[module] = alias;
  return alias + "." + RelativeName(message);
}

std::string Kind(const MethodDescriptor* m) {
  if (m->client_streaming()) {
    return m->server_streaming() ? "stream_stream" : "stream_unary";
  }
  return m->server_streaming() ? "unary_stream" : "unary_unary";
}

// A docstring from a proto comment, or `fallback`.
std::string Docstring(const std::string& comment, const std::string& fallback,
                      const std::string& indent) {
  std::string text = comment;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) {
    text.erase(text.begin());
  }
  if (text.empty()) text = fallback;
  text = ReplaceAll(ReplaceAll(text, "\\", "\\\\"), "\"\"\"", "\\\"\\\"\\\"");
  if (!text.empty() && text.back() == '"') text.insert(text.size() - 1, "\\");
  text = ReplaceAll(text, "\n ", "\n");
  text = ReplaceAll(text, "\n", "\n" + indent);
  return indent + "\"\"\"" + text + "\"\"\"\n";
}

std::string LeadingComment(const MethodDescriptor* m) {
  google::protobuf::SourceLocation location;
  return m->GetSourceLocation(&location) ? location.leading_comments : "";
}

std::string LeadingComment(const ServiceDescriptor* s) {
  google::protobuf::SourceLocation location;
  return s->GetSourceLocation(&location) ? location.leading_comments : "";
}

bool CheckNames(const FileDescriptor* file, std::string* error) {
  std::set<std::string> top_level;
  for (int i = 0; i < file->service_count(); ++i) {
    const ServiceDescriptor* s = file->service(i);
    if (IsPythonKeyword(s->name())) {
      *error = "service " + s->full_name() +
               ": its name is a Python keyword, which Python code cannot use "
               "as a class name";
      return false;
    }
    for (const std::string& name :
         {s->name() + "Stub", s->name() + "Servicer",
          "add_" + s->name() + "Servicer_to_server"}) {
      if (!top_level.insert(name).second) {
        *error = "service " + s->full_name() + ": the Python name " + name +
                 " is generated twice in " + file->name();
        return false;
      }
    }
    for (int j = 0; j < s->method_count(); ++j) {
      const MethodDescriptor* m = s->method(j);
      if (IsPythonKeyword(m->name())) {
        *error = "method " + m->full_name() +
                 ": its name is a Python keyword, which Python code cannot "
                 "use as a method name";
        return false;
      }
    }
  }
  return true;
}

}  // namespace

std::string PythonModuleName(const std::string& proto_file_name) {
  std::string base = proto_file_name;
  const std::string suffix = ".proto";
  if (base.size() >= suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  base = ReplaceAll(ReplaceAll(base, "-", "_"), "/", ".");
  return base + "_pb2";
}

std::string PythonModuleAlias(const std::string& module_name) {
  return ReplaceAll(ReplaceAll(module_name, "_", "__"), ".", "_dot_");
}

bool GeneratePython(const FileDescriptor* file, GeneratorContext* context,
                    std::string* error) {
  if (!CheckNames(file, error)) return false;
  std::map<std::string, std::string> imports;  // module -> alias
  std::string body;
  for (int i = 0; i < file->service_count(); ++i) {
    const ServiceDescriptor* s = file->service(i);
    const std::string& svc = s->name();
    // The stub.
    body += "\n\nclass " + svc + "Stub(object):\n";
    body += Docstring(LeadingComment(s),
                      "Client stub of " + s->full_name() + ".", "    ");
    body += "\n    def __init__(self, channel):\n";
    body += "        \"\"\"channel: a netstructer.Channel.\"\"\"\n";
    if (s->method_count() == 0) body += "        del channel\n";
    for (int j = 0; j < s->method_count(); ++j) {
      const MethodDescriptor* m = s->method(j);
      body += "        self." + m->name() + " = channel." + Kind(m) + "(\n";
      body += "            '/" + s->full_name() + "/" + m->name() + "',\n";
      body += "            request_serializer=" +
              MessagePath(m->input_type(), &imports) +
              ".SerializeToString,\n";
      body += "            response_deserializer=" +
              MessagePath(m->output_type(), &imports) + ".FromString,\n";
      body += "        )\n";
    }
    // The servicer.
    body += "\n\nclass " + svc + "Servicer(object):\n";
    body += Docstring(LeadingComment(s),
                      "Base class of " + s->full_name() + "'s servicers.",
                      "    ");
    for (int j = 0; j < s->method_count(); ++j) {
      const MethodDescriptor* m = s->method(j);
      const std::string arg =
          m->client_streaming() ? "request_iterator" : "request";
      body += "\n    def " + m->name() + "(self, " + arg + ", context):\n";
      body += Docstring(LeadingComment(m), "Not implemented: override it.",
                        "        ");
      body += "        context.abort(_ns_rpc.StatusCode.UNIMPLEMENTED,\n";
      body += "                      'method " + s->full_name() + "/" +
              m->name() + " is not implemented')\n";
    }
    if (s->method_count() == 0) body += "    pass\n";
    // Registration.
    body += "\n\ndef add_" + svc + "Servicer_to_server(servicer, server):\n";
    body += "    \"\"\"Serves `servicer`'s methods on a netstructer.Server.\"\"\"\n";
    body += "    server.add_service('" + s->full_name() + "', {\n";
    for (int j = 0; j < s->method_count(); ++j) {
      const MethodDescriptor* m = s->method(j);
      body += "        '" + m->name() + "': _ns_rpc." + Kind(m) +
              "_rpc_method_handler(\n";
      body += "            servicer." + m->name() + ",\n";
      body += "            request_deserializer=" +
              MessagePath(m->input_type(), &imports) + ".FromString,\n";
      body += "            response_serializer=" +
              MessagePath(m->output_type(), &imports) +
              ".SerializeToString,\n";
      body += "        ),\n";
    }
    body += "    })\n";
  }

  std::string text =
      "# Generated by protoc-gen-netstructer. DO NOT EDIT.\n"
      "# source: " + file->name() + "\n";
  text += "\"\"\"NetStructer stubs and servicers for " + file->name() +
          ".\"\"\"\n\n";
  text += "from netstructer import rpc as _ns_rpc\n";
  for (const auto& [module, alias] : imports) {
    const size_t dot = module.rfind('.');
    if (dot == std::string::npos) {
      text += "import " + module + " as " + alias + "\n";
    } else {
      text += "from " + module.substr(0, dot) + " import " +
              module.substr(dot + 1) + " as " + alias + "\n";
    }
  }
  text += "\nif _ns_rpc.RUNTIME_VERSION != " +
          std::to_string(kPythonRuntimeVersion) + ":\n";
  text += "    raise ImportError(\n";
  text += "        '" + file->name() + ": generated for the netstructer "
          "Python RPC runtime '\n";
  text += "        '" + std::to_string(kPythonRuntimeVersion) +
          ", the installed package has %d: regenerate it'\n";
  text += "        % _ns_rpc.RUNTIME_VERSION)\n";
  text += body;

  const std::string name = PythonModuleName(file->name());
  std::string path = ReplaceAll(name.substr(0, name.size() - 4), ".", "/");
  std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> stream(
      context->Open(path + "_ns.py"));
  google::protobuf::io::Printer printer(stream.get(), '$');
  printer.PrintRaw(text);
  return !printer.failed();
}

}  // namespace netstructer::protoc_plugin
