// The consumer's own transport/socket.h: the same path as a NetStructer
// header, another class. NetStructer's headers must never pick this one up
// (they include theirs as netstructer/transport/socket.h).
#ifndef SHOP_TRANSPORT_SOCKET_H_
#define SHOP_TRANSPORT_SOCKET_H_

#include <string>
#include <utility>

namespace shop {

// A socket in name only: what the test checks is which header was read.
class Socket {
 public:
  explicit Socket(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace shop

#endif  // SHOP_TRANSPORT_SOCKET_H_
