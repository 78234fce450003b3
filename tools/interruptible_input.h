// Standard input that a thread blocked reading it can be woken from: a
// streaming `call -d @` reads its requests from stdin on a writer thread,
// and once the call has ended (the server finished, the deadline passed)
// that thread must stop waiting for a user who may never type again.
//
// Thread-safe for one reader plus any number of Interrupt() callers.
#ifndef NETSTRUCTER_TOOLS_INTERRUPTIBLE_INPUT_H_
#define NETSTRUCTER_TOOLS_INTERRUPTIBLE_INPUT_H_

#include <streambuf>

namespace netstructer::tools {

class InterruptibleInput : public std::streambuf {
 public:
  // Reads `fd` (not owned).
  explicit InterruptibleInput(int fd);
  ~InterruptibleInput() override;
  InterruptibleInput(const InterruptibleInput&) = delete;
  InterruptibleInput& operator=(const InterruptibleInput&) = delete;

  // From now on the input ends (a read in progress returns at once).
  void Interrupt();

 protected:
  int_type underflow() override;

 private:
  const int fd_;
  const int wake_fd_;  // eventfd
  char buffer_[4096];
};

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_INTERRUPTIBLE_INPUT_H_
