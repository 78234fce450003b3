"""ns_fuzz_target: a libFuzzer target whose seed corpus replays under bazel test.

For a target `foo` (source foo_fuzzer.cc defining LLVMFuzzerTestOneInput) it
declares:
  foo_fuzzer      the fuzzer; a real libFuzzer binary under --config=fuzz,
                  a corpus replayer otherwise. Run it as
                  bazel-bin/tests/fuzz/foo_fuzzer tests/fuzz/corpus/foo
  foo_replay_test replays every file of corpus/foo (a plain cc_test).
  foo_fuzz_run_test  runs the fuzzer for FUZZ_SECONDS (default 30) on a copy
                  of corpus/foo; tagged manual (not in `bazel test //...`),
                  meaningful only under --config=fuzz (`.ci/run` runs them).
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
    native.sh_test(
        name = name + "_fuzz_run_test",
        size = "medium",
        srcs = ["//tests/fuzz:fuzz_run.sh"],
        data = [":" + name + "_fuzzer"] + native.glob([corpus + "/**"]),
        args = [
            "$(location :" + name + "_fuzzer)",
            native.package_name() + "/" + corpus,
        ],
        tags = ["manual", "fuzz_run"],
    )
