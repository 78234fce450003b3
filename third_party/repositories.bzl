"""Local repositories that wire Debian's packages into Bazel 4.2.3.

Bazel 4.2.3's built-in WORKSPACE suffix fetches rules_cc, rules_java and
remote_coverage_tools from the internet; these local stand-ins satisfy it
offline. `com_google_protobuf` is the name Bazel's native proto rules use by
default for protoc and the C++ proto toolchain, so no flags are needed, here
or in a workspace that depends on NetStructer.
"""

def netstructer_repositories(path = "."):
    """Declares NetStructer's repositories.

    Args:
      path: where the NetStructer source tree is, relative to the calling
        workspace's root ("." for NetStructer itself).
    """
    native.local_repository(
        name = "rules_cc",
        path = path + "/third_party/rules_cc",
    )
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    native.local_repository(
        name = "remote_coverage_tools",
        path = path + "/third_party/remote_coverage_tools",
    )
    native.local_repository(
        name = "com_google_protobuf",
        path = path + "/third_party/protobuf",
    )

    # Python targets (py_netstructer_library, python/, tests/python/) run
    # Debian's /usr/bin/python3, whatever python3 comes first on PATH.
    native.register_toolchains("@netstructer//third_party/python:debian_python_toolchain")
