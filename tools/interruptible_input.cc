#include "netstructer/tools/interruptible_input.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace netstructer::tools {

InterruptibleInput::InterruptibleInput(int fd)
    : fd_(fd), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

InterruptibleInput::~InterruptibleInput() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void InterruptibleInput::Interrupt() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

InterruptibleInput::int_type InterruptibleInput::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = poll(fds, wake_fd_ >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return traits_type::eof();
    if (wake_fd_ >= 0 && (fds[1].revents & POLLIN) != 0) {
      return traits_type::eof();  // Interrupted: the input ends here.
    }
    const ssize_t got = read(fd_, buffer_, sizeof(buffer_));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return traits_type::eof();
    setg(buffer_, buffer_, buffer_ + got);
    return traits_type::to_int_type(*gptr());
  }
}

}  // namespace netstructer::tools
