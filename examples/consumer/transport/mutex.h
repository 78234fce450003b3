// The consumer's own transport/mutex.h
// at a NetStructer header's path (see transport/socket.h).
#ifndef SHOP_TRANSPORT_MUTEX_H_
#define SHOP_TRANSPORT_MUTEX_H_

namespace shop {

// Which header the compiler read: this one.
struct Mutex {
  static constexpr const char* kPath = "transport/mutex.h";
};

}  // namespace shop

#endif  // SHOP_TRANSPORT_MUTEX_H_
