// The consumer's own proto/status_macros.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_PROTO_STATUS_MACROS_H_
#define SHOP_PROTO_STATUS_MACROS_H_

namespace shop {

// Which header the compiler read: this one.
struct StatusMacros {
  static constexpr const char* kPath = "proto/status_macros.h";
};

}  // namespace shop

#endif  // SHOP_PROTO_STATUS_MACROS_H_
