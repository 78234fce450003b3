"""cc_netstructer_library and py_netstructer_library: C++ and Python stubs
and service bases for proto services.

Usage, next to the native proto rules (as gRPC's cc_grpc_library):

    load("@netstructer//tools:defs.bzl", "cc_netstructer_library")

    proto_library(name = "greeter_proto", srcs = ["greeter.proto"])
    cc_proto_library(name = "greeter_cc_proto", deps = [":greeter_proto"])
    cc_netstructer_library(
        name = "greeter_cc_netstructer",
        srcs = [":greeter_proto"],
        deps = [":greeter_cc_proto"],
    )

For every NAME.proto of the proto_library, protoc-gen-netstructer writes
NAME.ns.h and NAME.ns.cc (always both, even for a file without services);
`#include "IMPORT/PATH/NAME.ns.h"`, where IMPORT/PATH/NAME.proto is the
path protoc knows the file by (as for NAME.pb.h). The proto_library may be
in any package (an `apis/` package of shared protos, another repository)
and may use import_prefix and strip_import_prefix, as with
cc_grpc_library.

Targets: `<name>` (the cc_library) and `<name>_codegen` (only the generated
files; it needs no RPC runtime, so golden tests build it alone).

All labels here are Label()s, so they resolve to this repository even when
NetStructer is an external repository of another workspace.
"""

_PLUGIN = Label("//tools/protoc_plugin:protoc-gen-netstructer")
_PROTOC = Label("@com_google_protobuf//:protoc")
_RUNTIME = Label("//client:rpc_runtime")

# The attributes of both code generation rules.
_CODEGEN_ATTRS = {
    "srcs": attr.label_list(
        providers = [ProtoInfo],
        mandatory = True,
        doc = "Exactly one proto_library.",
    ),
    "_plugin": attr.label(
        default = _PLUGIN,
        executable = True,
        cfg = "exec",
    ),
    "_protoc": attr.label(
        default = _PROTOC,
        executable = True,
        cfg = "exec",
    ),
}

def _strip_proto(path):
    if not path.endswith(".proto"):
        fail("%s is not a .proto file" % path)
    return path[:-len(".proto")]

def _import_path(src, proto_info):
    """The path protoc knows `src` by, e.g. "pkg/greeter.proto"."""
    root = proto_info.proto_source_root
    path = src.path
    if root in ("", "."):
        return path
    if not path.startswith(root + "/"):
        fail("%s is not under its proto_source_root %s" % (path, root))
    return path[len(root) + 1:]

def _output_prefix(codegen_name):
    """Where a codegen target's files go, relative to its package."""
    return "_ns/" + codegen_name + "/"

def _netstructer_codegen_impl(ctx):
    if len(ctx.attr.srcs) != 1:
        fail("srcs must name exactly one proto_library", attr = "srcs")
    proto_info = ctx.attr.srcs[0][ProtoInfo]

    headers = []
    sources = []
    file_args = []
    out_root = None

    # Outputs go under _ns/<name>/<import path>, whatever package the
    # proto_library is in and however it rewrites import paths; the
    # cc_library strips `_ns/<name>`, so `#include "<import path>.ns.h"`
    # works as the cc_proto_library's `<import path>.pb.h` does.
    for src in proto_info.direct_sources:
        import_base = _strip_proto(_import_path(src, proto_info))
        prefix = _output_prefix(ctx.label.name)
        header = ctx.actions.declare_file(prefix + import_base + ".ns.h")
        source = ctx.actions.declare_file(prefix + import_base + ".ns.cc")
        headers.append(header)
        sources.append(source)
        file_args.append(src.path)

        # protoc writes <out_root>/<import path minus .proto>.ns.h.
        root = header.path[:-len(import_base + ".ns.h")].rstrip("/")
        if out_root != None and out_root != root:
            fail("internal error: output roots differ: %s vs %s" % (out_root, root))
        out_root = root

    if not file_args:
        fail("the proto_library has no srcs", attr = "srcs")

    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-netstructer=" + ctx.executable._plugin.path)
    args.add("--netstructer_out=" + (out_root or "."))
    args.add_all(proto_info.transitive_proto_path, format_each = "-I%s")
    args.add_all(file_args)

    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = proto_info.transitive_sources,
        tools = [ctx.executable._plugin],
        outputs = headers + sources,
        mnemonic = "NetStructerProtoc",
        progress_message = "Generating NetStructer stubs for %s" % ctx.label,
    )
    return [
        DefaultInfo(
            files = depset(headers + sources),
            runfiles = ctx.runfiles(files = headers + sources),
        ),
        OutputGroupInfo(headers = depset(headers), sources = depset(sources)),
    ]

netstructer_codegen = rule(
    implementation = _netstructer_codegen_impl,
    doc = "Runs protoc-gen-netstructer over one proto_library's sources.",
    attrs = _CODEGEN_ATTRS,
)

def cc_netstructer_library(
        name,
        srcs,
        deps = [],
        runtime = None,
        visibility = None,
        testonly = None,
        **kwargs):
    """A cc_library with the NetStructer stubs of one proto_library.

    Args:
      name: the cc_library's name; `<name>_codegen` is the generation alone.
      srcs: a list with exactly one proto_library.
      deps: the cc_proto_library of those protos (and anything else needed).
      runtime: the RPC runtime library; defaults to NetStructer's
        //client:rpc_runtime.
      visibility: of the cc_library (the helper targets stay private).
      testonly: as for any rule.
      **kwargs: passed to the cc_library.
    """
    if len(srcs) != 1:
        fail("cc_netstructer_library %s: srcs must name exactly one proto_library" % name)
    codegen = name + "_codegen"
    netstructer_codegen(
        name = codegen,
        srcs = srcs,
        testonly = testonly,
        visibility = ["//visibility:private"],
    )
    native.filegroup(
        name = codegen + "_hdrs",
        srcs = [":" + codegen],
        output_group = "headers",
        testonly = testonly,
        visibility = ["//visibility:private"],
    )
    native.filegroup(
        name = codegen + "_srcs",
        srcs = [":" + codegen],
        output_group = "sources",
        testonly = testonly,
        visibility = ["//visibility:private"],
    )
    native.cc_library(
        name = name,
        srcs = [":" + codegen + "_srcs"],
        hdrs = [":" + codegen + "_hdrs"],
        strip_include_prefix = _output_prefix(codegen),
        deps = deps + [runtime if runtime != None else _RUNTIME],
        visibility = visibility,
        testonly = testonly,
        **kwargs
    )

# --- Python -----------------------------------------------------------------

_PY_RUNTIME = Label("//python:netstructer")

def _py_module_path(import_base):
    """protoc's Python module file for a proto: "a/b-c" -> "a/b_c"."""
    return import_base.replace("-", "_")

def _netstructer_py_codegen_impl(ctx):
    if len(ctx.attr.srcs) != 1:
        fail("srcs must name exactly one proto_library", attr = "srcs")
    proto_info = ctx.attr.srcs[0][ProtoInfo]
    outputs = []
    file_args = []
    out_root = None
    package = ctx.label.package
    for src in proto_info.direct_sources:
        base = _py_module_path(_strip_proto(_import_path(src, proto_info)))

        # A proto whose import path is under this package (the usual case)
        # gets its modules right here, beside the package's own .py files,
        # so that one Python package holds both. Any other goes under
        # _nspy/<name>/, which the py_library adds to the import path.
        if package == "":
            declared = base
        elif base.startswith(package + "/"):
            declared = base[len(package) + 1:]
        else:
            declared = "_nspy/" + ctx.label.name + "/" + base
        pb2 = ctx.actions.declare_file(declared + "_pb2.py")
        ns = ctx.actions.declare_file(declared + "_ns.py")
        outputs += [pb2, ns]
        file_args.append(src.path)
        root = pb2.path[:-len(base + "_pb2.py")].rstrip("/")
        if out_root != None and out_root != root:
            fail("internal error: output roots differ: %s vs %s" % (out_root, root))
        out_root = root
    if not file_args:
        fail("the proto_library has no srcs", attr = "srcs")

    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-netstructer=" + ctx.executable._plugin.path)
    args.add("--python_out=" + out_root)
    args.add("--netstructer_out=python:" + out_root)
    args.add_all(proto_info.transitive_proto_path, format_each = "-I%s")
    args.add_all(file_args)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = proto_info.transitive_sources,
        tools = [ctx.executable._plugin],
        outputs = outputs,
        mnemonic = "NetStructerProtocPython",
        progress_message = "Generating NetStructer Python stubs for %s" % ctx.label,
    )
    ns_modules = [f for f in outputs if f.basename.endswith("_ns.py")]
    return [
        DefaultInfo(files = depset(outputs), runfiles = ctx.runfiles(files = outputs)),
        OutputGroupInfo(ns_modules = depset(ns_modules)),
    ]

netstructer_py_codegen = rule(
    implementation = _netstructer_py_codegen_impl,
    doc = "protoc's NAME_pb2.py and protoc-gen-netstructer's NAME_ns.py for one proto_library.",
    attrs = _CODEGEN_ATTRS,
)

def py_netstructer_library(name, srcs, deps = [], visibility = None, testonly = None, **kwargs):
    """A py_library with NAME_pb2.py and NAME_ns.py of one proto_library.

    Beside cc_netstructer_library:

        py_netstructer_library(
            name = "greeter_py",
            srcs = [":greeter_proto"],
        )

    Python code then imports the modules by the proto's import path, as
    protoc names them: `from examples.greeter import greeter_pb2,
    greeter_ns` for examples/greeter/greeter.proto. Protos imported from
    other proto_libraries need their own py_netstructer_library in `deps`
    (protobuf's well-known types come with python3-protobuf).

    Args:
      name: the py_library's name; `<name>_codegen` is the generation alone.
      srcs: a list with exactly one proto_library.
      deps: py_libraries the generated modules import.
      visibility: of the py_library.
      testonly: as for any rule.
      **kwargs: passed to the py_library.
    """
    if len(srcs) != 1:
        fail("py_netstructer_library %s: srcs must name exactly one proto_library" % name)
    codegen = name + "_codegen"
    netstructer_py_codegen(
        name = codegen,
        srcs = srcs,
        testonly = testonly,
        visibility = ["//visibility:private"],
    )
    native.py_library(
        name = name,
        srcs = [":" + codegen],
        imports = ["_nspy/" + codegen],
        deps = deps + [_PY_RUNTIME],
        visibility = visibility,
        testonly = testonly,
        **kwargs
    )
