// The consumer's own service/server.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_SERVICE_SERVER_H_
#define SHOP_SERVICE_SERVER_H_

namespace shop {

// Which header the compiler read: this one.
struct Server {
  static constexpr const char* kPath = "service/server.h";
};

}  // namespace shop

#endif  // SHOP_SERVICE_SERVER_H_
