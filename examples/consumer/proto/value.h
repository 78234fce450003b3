// The consumer's own proto/value.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_PROTO_VALUE_H_
#define SHOP_PROTO_VALUE_H_

namespace shop {

// Which header the compiler read: this one.
struct Value {
  static constexpr const char* kPath = "proto/value.h";
};

}  // namespace shop

#endif  // SHOP_PROTO_VALUE_H_
