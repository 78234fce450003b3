"""ns_fuzz_target: a libFuzzer target whose seed corpus replays under bazel test.

For a target `foo` (source foo_fuzzer.cc defining LLVMFuzzerTestOneInput) it
declares:
  foo_fuzzer      the fuzzer; a real libFuzzer binary under --config=fuzz,
                  a corpus replayer otherwise. Run it as
                  bazel-bin/tests/fuzz/foo_fuzzer tests/fuzz/corpus/foo
  foo_replay_test replays every file of corpus/foo (a plain cc_test).
"""

def ns_fuzz_target(name, deps = []):
    lib = name + "_lib"
    corpus = "corpus/" + name
    native.cc_library(
        name = lib,
        testonly = True,
        srcs = [name + "_fuzzer.cc"],
        deps = deps,
        alwayslink = True,
    )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        deps = [":" + lib] + select({
            "//tests/fuzz:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tests/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["fuzz_target"],
    )
    native.cc_test(
        name = name + "_replay_test",
        size = "small",
        deps = [":" + lib, "//tests/fuzz:replay_main"],
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
        tags = ["fuzz_target"],
    )
