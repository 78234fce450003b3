# Only for Bazel's Python rules; not part of the C++ tree.
#
# When NetStructer is an external repository of another workspace, its
# directory in every py_test's and py_binary's runfiles is named
# `netstructer`, sits first on sys.path, and Bazel makes it a Python package
# (an empty __init__.py) unless the workspace sets
# --incompatible_default_to_explicit_init_py. That package would hide the
# real one, python/netstructer. So the repository ships this __init__.py
# (//python:netstructer carries it into runfiles, and Bazel then makes no
# empty one): it turns the directory into the real package, whatever the
# consumer's flags. Outside Bazel nothing imports this file.
import os as _os

__path__ = [_os.path.join(_os.path.dirname(_os.path.abspath(__file__)),
                          "python", "netstructer")]
with open(_os.path.join(__path__[0], "__init__.py"), encoding="utf-8") as _f:
    exec(compile(_f.read(), _f.name, "exec"))  # noqa: S102 - our own file.
