// The consumer's own transport/bridge.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_TRANSPORT_BRIDGE_H_
#define SHOP_TRANSPORT_BRIDGE_H_

namespace shop {

// Which header the compiler read: this one.
struct Bridge {
  static constexpr const char* kPath = "transport/bridge.h";
};

}  // namespace shop

#endif  // SHOP_TRANSPORT_BRIDGE_H_
