// The consumer's own client/channel.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_CLIENT_CHANNEL_H_
#define SHOP_CLIENT_CHANNEL_H_

namespace shop {

// Which header the compiler read: this one.
struct Channel {
  static constexpr const char* kPath = "client/channel.h";
};

}  // namespace shop

#endif  // SHOP_CLIENT_CHANNEL_H_
