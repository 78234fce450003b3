// The number of threads of this process (Threads: in /proc/self/status),
// for tests of who starts threads. -1 if it cannot be read.
#ifndef NETSTRUCTER_TESTS_TESTING_THREAD_COUNT_H_
#define NETSTRUCTER_TESTS_TESTING_THREAD_COUNT_H_

namespace netstructer::test {

int ThreadCount();

}  // namespace netstructer::test

#endif  // NETSTRUCTER_TESTS_TESTING_THREAD_COUNT_H_
