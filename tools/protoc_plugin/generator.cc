#include "netstructer/tools/protoc_plugin/generator.h"

#include "netstructer/tools/protoc_plugin/python_generator.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace netstructer::protoc_plugin {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::ServiceDescriptor;
using ::google::protobuf::compiler::GeneratorContext;

// Generated lines are wrapped to this width, as clang-format's Google style.
constexpr size_t kColumnLimit = 80;

// C++ keywords, as protoc's C++ generator resolves them (it appends '_').
const std::set<std::string>& CppKeywords() {
  static const auto* const kKeywords = new std::set<std::string>{
      "NULL",         "alignas",   "alignof",       "and",
      "and_eq",       "asm",       "auto",          "bitand",
      "bitor",        "bool",      "break",         "case",
      "catch",        "char",      "char8_t",       "char16_t",
      "char32_t",     "class",     "co_await",      "co_return",
      "co_yield",     "compl",     "concept",       "const",
      "const_cast",   "consteval", "constexpr",     "constinit",
      "continue",     "decltype",  "default",       "delete",
      "do",           "double",    "dynamic_cast",  "else",
      "enum",         "explicit",  "export",        "extern",
      "false",        "float",     "for",           "friend",
      "goto",         "if",        "inline",        "int",
      "long",         "mutable",   "namespace",     "new",
      "noexcept",     "not",       "not_eq",        "nullptr",
      "operator",     "or",        "or_eq",         "private",
      "protected",    "public",    "register",      "reinterpret_cast",
      "requires",     "return",    "short",         "signed",
      "sizeof",       "static",    "static_assert", "static_cast",
      "struct",       "switch",    "template",      "this",
      "thread_local", "throw",     "true",          "try",
      "typedef",      "typeid",    "typename",      "union",
      "unsigned",     "using",     "virtual",       "void",
      "volatile",     "wchar_t",   "while",         "xor",
      "xor_eq"};
  return *kKeywords;
}

bool IsCppKeyword(const std::string& name) {
  return CppKeywords().count(name) > 0;
}

std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

// "a.b.c" -> "a::b::c".
std::string CppNamespace(const FileDescriptor* file) {
  return Replace(file->package(), ".", "::");
}

std::string IncludeGuard(const std::string& header_name) {
  std::string guard = "NETSTRUCTER_GENERATED_";
  for (char c : header_name) {
    if ((c >= 'a' && c <= 'z')) {
      guard += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      guard += c;
    } else {
      guard += '_';
    }
  }
  return guard + "_";
}

std::string Join(const std::vector<std::string>& parts,
                 const std::string& separator) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += separator;
    joined += parts[i];
  }
  return joined;
}

// Appends "head(args...)tail" at `indent` spaces, wrapped the way
// clang-format's Google style wraps a declaration: on one line if it fits;
// else the arguments on one continuation line (4 more spaces); else one
// argument per continuation line.
void AppendCall(std::string* out, size_t indent, const std::string& head,
                const std::vector<std::string>& args, const std::string& tail) {
  const std::string pad(indent, ' ');
  const std::string continuation(indent + 4, ' ');
  const std::string joined = Join(args, ", ");
  std::string one_line = pad + head + "(" + joined + ")" + tail;
  if (one_line.size() <= kColumnLimit || args.empty()) {
    *out += one_line + "\n";
    return;
  }
  *out += pad + head + "(\n";
  std::string second = continuation + joined + ")" + tail;
  if (second.size() <= kColumnLimit) {
    *out += second + "\n";
    return;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    *out += continuation + args[i] + (i + 1 < args.size() ? "," : ")" + tail) +
            "\n";
  }
}

enum class Kind { kUnary, kClientStreaming, kServerStreaming, kBidiStreaming };

Kind KindOf(const MethodDescriptor* method) {
  if (method->client_streaming()) {
    return method->server_streaming() ? Kind::kBidiStreaming
                                      : Kind::kClientStreaming;
  }
  return method->server_streaming() ? Kind::kServerStreaming : Kind::kUnary;
}

const char* KindEnumerator(Kind kind) {
  switch (kind) {
    case Kind::kUnary:
      return "kUnary";
    case Kind::kClientStreaming:
      return "kClientStreaming";
    case Kind::kServerStreaming:
      return "kServerStreaming";
    case Kind::kBidiStreaming:
      return "kBidiStreaming";
  }
  return "kUnary";
}

const char* HandlerTemplate(Kind kind) {
  switch (kind) {
    case Kind::kUnary:
      return "UnaryHandler";
    case Kind::kClientStreaming:
      return "ClientStreamingHandler";
    case Kind::kServerStreaming:
      return "ServerStreamingHandler";
    case Kind::kBidiStreaming:
      return "BidiStreamingHandler";
  }
  return "UnaryHandler";
}

// One method with every name the generated code uses for it.
struct Method {
  const MethodDescriptor* descriptor;
  Kind kind;
  std::string name;      // "M"
  std::string request;   // "::pkg::Req"
  std::string response;  // "::pkg::Resp"
  std::string constant;  // "kSvc_M", unique in the .cc file
  // The constant from inside the classes, where a method of any name
  // (even "kSvc_M") may hide the bare one: "::pkg::kSvc_M".
  std::string qualified_constant;
};

constexpr char kOptionsDecl[] =
    "const ::netstructer::CallOptions& options = {}";
constexpr char kOptions[] = "const ::netstructer::CallOptions& options";
constexpr char kContext[] = "::netstructer::ClientContext* context";

// A stub method: its return type, name and parameters (`declaration`
// selects default arguments: header, or none: definition), and its body, a
// call of a runtime template with `args`.
struct StubSignature {
  std::string return_type;
  std::string name;
  std::vector<std::string> params;
  std::string call;
  std::vector<std::string> args;
};

// Each stub method twice: with CallOptions (last, defaulted) and with a
// ClientContext (first, as gRPC's stubs take it). The runtime template is
// the same; only the options-or-context argument differs.
std::vector<StubSignature> StubSignatures(const Method& m, bool declaration) {
  const std::string options = declaration ? kOptionsDecl : kOptions;
  const std::string request = "const " + m.request + "& request";
  const std::string types = "<" + m.request + ", " + m.response + ">";
  const std::string runtime = "::netstructer::internal::";
  const std::string callback =
      "::netstructer::UnaryCallback<" + m.response + "> done";
  const bool has_request =
      m.kind == Kind::kUnary || m.kind == Kind::kServerStreaming;
  const std::string stream_callbacks =
      "::netstructer::StreamCallbacks<" + m.response + "> callbacks";
  const std::string async_writer =
      "::std::unique_ptr<::netstructer::ClientAsyncWriter<" + m.request + ">>";
  // Each overload: return type, name, call, and the callback parameter
  // (empty: none) with the argument that passes it on.
  struct Shape {
    std::string return_type, name, call, callback, callback_arg;
  };
  std::vector<Shape> shapes;
  switch (m.kind) {
    case Kind::kUnary:
      shapes = {
          {"::absl::StatusOr<" + m.response + ">", m.name,
           "return " + runtime + "UnaryCall" + types, "", ""},
          {"void", m.name + "Async", runtime + "AsyncUnaryCall" + types,
           callback, "::std::move(done)"},
          {"::netstructer::Future<" + m.response + ">", m.name + "Async",
           "return " + runtime + "FutureUnaryCall" + types, "", ""},
      };
      break;
    case Kind::kClientStreaming:
      shapes = {{"::std::unique_ptr<::netstructer::ClientWriter" + types + ">",
                 m.name, "return " + runtime + "ClientStreamingCall" + types,
                 "", ""},
                {async_writer, m.name + "Async",
                 "return " + runtime + "ClientStreamingAsyncCall" + types,
                 callback, "::std::move(done)"}};
      break;
    case Kind::kServerStreaming:
      shapes = {{"::std::unique_ptr<::netstructer::ClientReader<" +
                     m.response + ">>",
                 m.name, "return " + runtime + "ServerStreamingCall" + types,
                 "", ""},
                {"void", m.name + "Async",
                 runtime + "ServerStreamingAsyncCall" + types,
                 stream_callbacks, "::std::move(callbacks)"}};
      break;
    case Kind::kBidiStreaming:
      shapes = {{"::std::unique_ptr<::netstructer::ClientReaderWriter" +
                     types + ">",
                 m.name, "return " + runtime + "BidiStreamingCall" + types,
                 "", ""},
                {async_writer, m.name + "Async",
                 "return " + runtime + "BidiStreamingAsyncCall" + types,
                 stream_callbacks, "::std::move(callbacks)"}};
      break;
  }
  std::vector<StubSignature> out;
  for (const bool with_context : {false, true}) {
    for (const Shape& shape : shapes) {
      StubSignature s{shape.return_type, shape.name, {}, shape.call,
                      {"channel_.get()", m.qualified_constant}};
      if (with_context) s.params.push_back(kContext);
      if (has_request) {
        s.params.push_back(request);
        s.args.push_back("request");
      }
      if (!with_context) {
        // Not defaulted before a callback, which has no default.
        s.params.push_back(shape.callback.empty() ? options : kOptions);
      }
      s.args.push_back(with_context ? "context" : "options");
      if (!shape.callback.empty()) {
        s.params.push_back(shape.callback);
        s.args.push_back(shape.callback_arg);
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

// The inline `MAsync(request, done)` of a unary method: the callback
// overload with default options. A template, so that `MAsync(request, {})`
// still means the Future overload.
void AppendDefaultOptionsCallback(std::string* out, const Method& m) {
  *out += "    template <typename Done,\n";
  *out += "              ::netstructer::internal::IfUnaryCallback<Done, " +
          m.response + "> = 0>\n";
  AppendCall(out, 4, "void " + m.name + "Async",
             {"const " + m.request + "& request", "Done&& done"}, " {");
  AppendCall(out, 6, m.name + "Async",
             {"request", "::netstructer::CallOptions()",
              "::netstructer::UnaryCallback<" + m.response +
                  ">(::std::forward<Done>(done))"},
             ";");
  *out += "    }\n";
}

// Handler parameters; `named` = false leaves the names in comments (the
// default definitions do not use them).
std::vector<std::string> HandlerParams(const Method& m, bool named) {
  auto param = [named](const std::string& type, const std::string& name) {
    return type + (named ? " " + name : " /*" + name + "*/");
  };
  std::vector<std::string> params = {
      param("::netstructer::ServerContext*", "context")};
  switch (m.kind) {
    case Kind::kUnary:
      params.push_back(param("const " + m.request + "*", "request"));
      params.push_back(param(m.response + "*", "response"));
      break;
    case Kind::kClientStreaming:
      params.push_back(
          param("::netstructer::ServerReader<" + m.request + ">*", "reader"));
      params.push_back(param(m.response + "*", "response"));
      break;
    case Kind::kServerStreaming:
      params.push_back(param("const " + m.request + "*", "request"));
      params.push_back(
          param("::netstructer::ServerWriter<" + m.response + ">*", "writer"));
      break;
    case Kind::kBidiStreaming:
      params.push_back(param("::netstructer::ServerReaderWriter<" + m.response +
                                 ", " + m.request + ">*",
                             "stream"));
      break;
  }
  return params;
}

// A streaming method's reactor factory: its return type and parameters
// (`named` as in HandlerParams).
std::string ReactorType(const Method& m) {
  switch (m.kind) {
    case Kind::kClientStreaming:
      return "::std::unique_ptr<::netstructer::ServerReadReactor<" + m.request +
             ">>";
    case Kind::kServerStreaming:
      return "::std::unique_ptr<::netstructer::ServerWriteReactor<" +
             m.response + ">>";
    case Kind::kBidiStreaming:
    case Kind::kUnary:
      break;
  }
  return "::std::unique_ptr<::netstructer::ServerBidiReactor<" + m.request +
         ", " + m.response + ">>";
}

std::vector<std::string> ReactorParams(const Method& m, bool named) {
  auto param = [named](const std::string& type, const std::string& name) {
    return type + (named ? " " + name : " /*" + name + "*/");
  };
  std::vector<std::string> params = {
      param("::netstructer::ServerContext*", "context")};
  if (m.kind == Kind::kClientStreaming) {
    params.push_back(param(m.response + "*", "response"));
  } else if (m.kind == Kind::kServerStreaming) {
    params.push_back(param("const " + m.request + "*", "request"));
  }
  return params;
}

// A message's proto name, without the package when it is the file's own.
std::string ProtoTypeName(const Descriptor* message,
                          const FileDescriptor* file) {
  const std::string& package = file->package();
  const std::string& full_name = message->full_name();
  if (!package.empty() && message->file()->package() == package) {
    return full_name.substr(package.size() + 1);
  }
  return full_name;
}

std::string RpcComment(const Method& m) {
  const MethodDescriptor* d = m.descriptor;
  const FileDescriptor* file = d->service()->file();
  return "// rpc " + d->name() + "(" +
         (d->client_streaming() ? "stream " : "") +
         ProtoTypeName(d->input_type(), file) + ") returns (" +
         (d->server_streaming() ? "stream " : "") +
         ProtoTypeName(d->output_type(), file) + ")";
}

// Collects the methods of `service`, assigning each a .cc constant name not
// used by any earlier method of the file. Returns false with *error set if a
// proto name cannot become a C++ name.
bool CollectMethods(const ServiceDescriptor* service,
                    std::set<std::string>* used_constants,
                    std::vector<Method>* methods, std::string* error) {
  if (IsCppKeyword(service->name())) {
    *error = "service '" + service->full_name() +
             "' is named after a C++ "
             "keyword; rename it";
    return false;
  }
  // Names of the generated class's own members: a nested class or member
  // cannot share its enclosing class's name.
  for (const char* reserved : {"Stub", "Service", "kServiceName", "NewStub"}) {
    if (service->name() == reserved) {
      *error = "service '" + service->full_name() +
               "' cannot be named " + reserved +
               ": the generated class " + reserved + " has a member of that "
               "name (" + reserved + "::Stub, " + reserved + "::Service, " +
               reserved + "::kServiceName, " + reserved +
               "::NewStub); rename it";
      return false;
    }
  }
  std::set<std::string> method_names;
  for (int i = 0; i < service->method_count(); ++i) {
    method_names.insert(service->method(i)->name());
  }
  for (int i = 0; i < service->method_count(); ++i) {
    const MethodDescriptor* d = service->method(i);
    Method m;
    m.descriptor = d;
    m.kind = KindOf(d);
    m.name = d->name();
    m.request = QualifiedCppClassName(d->input_type());
    m.response = QualifiedCppClassName(d->output_type());
    if (IsCppKeyword(m.name)) {
      *error = "method '" + d->full_name() +
               "' is named after a C++ keyword; "
               "rename it";
      return false;
    }
    if (m.name == "channel_") {
      *error = "method '" + d->full_name() +
               "' collides with the generated member " + service->name() +
               "::Stub::channel_; rename it";
      return false;
    }
    if (m.name == "Stub" || m.name == "Service") {
      *error = "method '" + d->full_name() +
               "' collides with the generated "
               "class " +
               service->name() + "::" + m.name + "; rename it";
      return false;
    }
    if (m.kind != Kind::kUnary && method_names.count(m.name + "Reactor") > 0) {
      *error = "method '" + service->full_name() + "." + m.name +
               "Reactor' collides with the reactor factory generated for "
               "the streaming method '" +
               d->full_name() + "'; rename one of them";
      return false;
    }
    if (method_names.count(m.name + "Async") > 0) {
      *error = "method '" + service->full_name() + "." + m.name +
               "Async' collides with the asynchronous stub method generated "
               "for '" +
               d->full_name() + "'; rename one of them";
      return false;
    }
    // "k" + service + "_" + method can repeat across services ("A_B"/"C" and
    // "A"/"B_C"); a numeric suffix keeps every constant unique.
    const std::string base = "k" + service->name() + "_" + m.name;
    m.constant = base;
    for (int n = 2; used_constants->count(m.constant) > 0; ++n) {
      m.constant = base + "_" + std::to_string(n);
    }
    used_constants->insert(m.constant);
    methods->push_back(std::move(m));
  }
  return true;
}

void AppendServiceDeclaration(std::string* out,
                              const ServiceDescriptor* service,
                              const std::vector<Method>& methods) {
  const std::string& svc = service->name();
  *out += "// Service " + service->full_name() + ".\n";
  *out += "class " + svc + " final {\n";
  *out += " public:\n";
  *out += "  static constexpr char kServiceName[] = \"" + service->full_name() +
          "\";\n";
  *out += "\n";
  *out += "  // The client side. Thread-safe: calls may run concurrently.\n";
  *out += "  class Stub final {\n";
  *out += "   public:\n";
  *out +=
      "    explicit Stub(::std::shared_ptr<::netstructer::Channel> "
      "channel);\n";
  for (const Method& m : methods) {
    *out += "\n    " + RpcComment(m) + "\n";
    for (const StubSignature& s : StubSignatures(m, /*declaration=*/true)) {
      AppendCall(out, 4, s.return_type + " " + s.name, s.params, ";");
    }
    if (m.kind == Kind::kUnary) AppendDefaultOptionsCallback(out, m);
  }
  *out += "\n";
  *out += "   private:\n";
  *out += "    ::std::shared_ptr<::netstructer::Channel> channel_;\n";
  *out += "  };\n";
  *out += "\n";
  *out += "  // As gRPC's: Svc::NewStub(channel).\n";
  *out +=
      "  static ::std::unique_ptr<Stub> NewStub(\n"
      "      ::std::shared_ptr<::netstructer::Channel> channel) {\n"
      "    return ::std::make_unique<Stub>(::std::move(channel));\n"
      "  }\n";
  *out += "\n";
  *out +=
      "  // The server side: override the handlers you implement; the "
      "others\n";
  *out += "  // answer UNIMPLEMENTED.\n";
  *out += "  class Service : public ::netstructer::Service {\n";
  *out += "   public:\n";
  *out += "    Service();\n";
  *out += "    ~Service() override;\n";
  for (const Method& m : methods) {
    *out += "\n    " + RpcComment(m) + "\n";
    AppendCall(out, 4, "virtual ::absl::Status " + m.name,
               HandlerParams(m, /*named=*/true), ";");
    if (m.kind != Kind::kUnary) {
      *out += "    // Or serve it without a thread: return a reactor (the "
              "default, null,\n";
      *out += "    // leaves the call to " + m.name + " above).\n";
      AppendCall(out, 4, "virtual " + ReactorType(m) + " " + m.name + "Reactor",
                 ReactorParams(m, /*named=*/true), ";");
    }
  }
  *out += "  };\n";
  *out += "};\n";
}

// protoc's C++ generator's name for `filename` in identifiers (its
// FilenameIdentifier): every character but [A-Za-z0-9] becomes '_' and its
// hex code. The file's descriptor table, defined in its .pb.cc, is
// "descriptor_table_" followed by it.
std::string FilenameIdentifier(const std::string& filename) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : filename) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9')) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    out.push_back('_');
    if (c >= 16) out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool IsLite(const FileDescriptor* file) {
  return file->options().optimize_for() ==
         google::protobuf::FileOptions::LITE_RUNTIME;
}

void AppendServiceDefinition(std::string* out, const ServiceDescriptor* service,
                             const std::vector<Method>& methods) {
  const std::string& svc = service->name();
  *out += "// " + service->full_name() + "\n\n";
  *out += svc +
          "::Stub::Stub(::std::shared_ptr<::netstructer::Channel> "
          "channel)\n";
  *out += "    : channel_(::std::move(channel)) {}\n";
  for (const Method& m : methods) {
    for (const StubSignature& s : StubSignatures(m, /*declaration=*/false)) {
      *out += "\n";
      AppendCall(out, 0, s.return_type + " " + svc + "::Stub::" + s.name,
                 s.params, " {");
      AppendCall(out, 2, s.call, s.args, ";");
      *out += "}\n";
    }
  }
  *out += "\n";
  // Qualified: a method may be named kServiceName.
  const std::string ns = CppNamespace(service->file());
  *out += svc + "::Service::Service()\n";
  *out += "    : ::netstructer::Service(" +
          (ns.empty() ? std::string("::") : "::" + ns + "::") + svc +
          "::kServiceName) {\n";
  // A file of services only has nothing else that refers to its .pb.o: a
  // static link would drop it, and reflection would never see the service.
  // (A LITE_RUNTIME file has no descriptor table, and no reflection.)
  if (!IsLite(service->file())) {
    *out += "  ::google::protobuf::internal::AssignDescriptors(\n";
    *out += "      &::descriptor_table_" +
            FilenameIdentifier(service->file()->name()) + ");\n";
  }
  for (const Method& m : methods) {
    const std::string handler = std::string("::netstructer::internal::") +
                                HandlerTemplate(m.kind) + "<Service, " +
                                m.request + ", " + m.response +
                                ">(&Service::" + m.name +
                                (m.kind == Kind::kUnary
                                     ? std::string()
                                     : ", &Service::" + m.name + "Reactor") +
                                ")";
    AppendCall(out, 2, "::netstructer::Service::AddMethod",
               {std::string("::netstructer::internal::MethodKind::") +
                    KindEnumerator(m.kind),
                m.qualified_constant, handler},
               ";");
  }
  *out += "}\n";
  *out += "\n";
  *out += svc + "::Service::~Service() = default;\n";
  for (const Method& m : methods) {
    *out += "\n";
    AppendCall(out, 0, "::absl::Status " + svc + "::Service::" + m.name,
               HandlerParams(m, /*named=*/false), " {");
    AppendCall(out, 2, "return ::absl::UnimplementedError",
               {"\"method " + service->full_name() + "/" + m.name +
                " is not implemented\""},
               ";");
    *out += "}\n";
    if (m.kind != Kind::kUnary) {
      *out += "\n";
      AppendCall(out, 0,
                 ReactorType(m) + " " + svc + "::Service::" + m.name + "Reactor",
                 ReactorParams(m, /*named=*/false), " {");
      *out += "  return nullptr;\n";
      *out += "}\n";
    }
  }
}

bool WriteFile(GeneratorContext* context, const std::string& name,
               const std::string& text) {
  std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> stream(
      context->Open(name));
  google::protobuf::io::Printer printer(stream.get(), '$');
  printer.PrintRaw(text);
  return !printer.failed();
}

}  // namespace

std::string StripProtoExtension(const std::string& file_name) {
  const std::string suffix = ".proto";
  if (file_name.size() >= suffix.size() &&
      file_name.compare(file_name.size() - suffix.size(), suffix.size(),
                        suffix) == 0) {
    return file_name.substr(0, file_name.size() - suffix.size());
  }
  return file_name;
}

std::string QualifiedCppClassName(const Descriptor* message) {
  std::string name = message->name();
  for (const Descriptor* parent = message->containing_type(); parent != nullptr;
       parent = parent->containing_type()) {
    name = parent->name() + "_" + name;
  }
  if (IsCppKeyword(name)) name += "_";
  const std::string ns = CppNamespace(message->file());
  return ns.empty() ? "::" + name : "::" + ns + "::" + name;
}

bool NetStructerGenerator::Generate(const FileDescriptor* file,
                                    const std::string& parameter,
                                    GeneratorContext* context,
                                    std::string* error) const {
  std::vector<std::pair<std::string, std::string>> options;
  google::protobuf::compiler::ParseGeneratorParameter(parameter, &options);
  if (options.size() == 1 && options.front().first == "python" &&
      options.front().second.empty()) {
    return GeneratePython(file, context, error);
  }
  if (!options.empty()) {
    *error = "unknown parameter '" + options.front().first +
             "' (protoc-gen-netstructer takes none for C++, or 'python')";
    return false;
  }

  // Constants never take a service's name (both live in the namespace).
  std::set<std::string> used_constants;
  for (int i = 0; i < file->service_count(); ++i) {
    used_constants.insert(file->service(i)->name());
  }
  std::vector<std::vector<Method>> services;
  for (int i = 0; i < file->service_count(); ++i) {
    services.emplace_back();
    if (!CollectMethods(file->service(i), &used_constants, &services.back(),
                        error)) {
      return false;
    }
  }

  const std::string scope =
      CppNamespace(file).empty() ? "::" : "::" + CppNamespace(file) + "::";
  for (std::vector<Method>& methods : services) {
    for (Method& m : methods) m.qualified_constant = scope + m.constant;
  }

  const std::string base = StripProtoExtension(file->name());
  const std::string header_name = base + ".ns.h";
  const std::string source_name = base + ".ns.cc";
  const std::string banner =
      "// Generated by protoc-gen-netstructer. DO NOT EDIT.\n"
      "// source: " +
      file->name() + "\n\n";
  const std::string ns = CppNamespace(file);
  const std::string guard = IncludeGuard(header_name);

  // The header.
  std::string h = banner;
  h += "#ifndef " + guard + "\n";
  h += "#define " + guard + "\n\n";
  h += "#include <memory>\n#include <utility>\n\n";
  std::vector<std::string> includes = {kRuntimeHeader, base + ".pb.h"};
  std::sort(includes.begin(), includes.end());
  for (const std::string& include : includes) {
    h += "#include \"" + include + "\"\n";
  }
  h += "\n";
  h += "#if !defined(NETSTRUCTER_RPC_RUNTIME_VERSION) || \\\n";
  h += "    NETSTRUCTER_RPC_RUNTIME_VERSION != " +
       std::to_string(kRuntimeVersion) + "\n";
  h += "#error \"" + header_name + " was generated for NetStructer RPC " +
       "runtime version " + std::to_string(kRuntimeVersion) +
       "; regenerate it with the matching protoc-gen-netstructer\"\n";
  h += "#endif\n";
  if (!services.empty()) {
    h += "\n";
    if (!ns.empty()) h += "namespace " + ns + " {\n\n";
    for (int i = 0; i < file->service_count(); ++i) {
      if (i > 0) h += "\n";
      AppendServiceDeclaration(&h, file->service(i), services[i]);
    }
    if (!ns.empty()) h += "\n}  // namespace " + ns + "\n";
  }
  h += "\n#endif  // " + guard + "\n";

  // The source.
  std::string cc = banner;
  cc += "#include \"" + header_name + "\"\n";
  if (!services.empty()) {
    cc += "\n#include <memory>\n#include <utility>\n\n";
    if (!IsLite(file)) {
      cc += "#include \"google/protobuf/generated_message_reflection.h\"\n\n";
    }
    if (!ns.empty()) cc += "namespace " + ns + " {\n";
    cc += "namespace {\n\n";
    for (const std::vector<Method>& methods : services) {
      for (const Method& m : methods) {
        const std::string path =
            "/" + m.descriptor->service()->full_name() + "/" + m.name;
        cc += "constexpr char " + m.constant + "[] = \"" + path + "\";\n";
      }
    }
    cc += "\n}  // namespace\n";
    for (int i = 0; i < file->service_count(); ++i) {
      cc += "\n";
      AppendServiceDefinition(&cc, file->service(i), services[i]);
    }
    if (!ns.empty()) cc += "\n}  // namespace " + ns + "\n";
  }

  if (!WriteFile(context, header_name, h) ||
      !WriteFile(context, source_name, cc)) {
    *error = "failed to write " + header_name + " or " + source_name;
    return false;
  }
  return true;
}

}  // namespace netstructer::protoc_plugin
