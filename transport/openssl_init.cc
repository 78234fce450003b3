// OpenSSL without its exit-time cleanup, set up before main.
//
// By default OpenSSL frees its global state in an atexit handler registered
// when it first initializes. Threads it knows nothing of outlive that
// handler: loop threads joined by a handler registered earlier (the shared
// client group's, EventLoopGroup::Shared), detached threads ending while
// the process exits, a user's own threads. Once the cleanup has deleted its
// per-thread keys, such a thread ends without freeing its random generators
// (LeakSanitizer reports them, tests/transport/openssl_at_exit_test), and
// one still sealing would use freed state. So this library asks OpenSSL
// never to clean up at exit (OPENSSL_INIT_NO_ATEXIT, openssl-init(3)): the
// kernel reclaims the memory, and every thread can use OpenSSL until the
// process is gone.
//
// It runs as a static initializer (the library is alwayslink) so that it
// comes before any use. If the embedding program initialized OpenSSL
// earlier itself, OpenSSL keeps that program's choice.
#include <openssl/crypto.h>

namespace netstructer::transport {
namespace {

const bool kOpenSslInitialized =
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;

}  // namespace
}  // namespace netstructer::transport
