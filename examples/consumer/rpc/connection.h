// The consumer's own rpc/connection.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_RPC_CONNECTION_H_
#define SHOP_RPC_CONNECTION_H_

namespace shop {

// Which header the compiler read: this one.
struct Connection {
  static constexpr const char* kPath = "rpc/connection.h";
};

}  // namespace shop

#endif  // SHOP_RPC_CONNECTION_H_
