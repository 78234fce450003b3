// An unlinked temporary file for reassembling large messages: the
// NamedTemporaryFile idea done right. It never has a name in the file system
// (O_TMPFILE, or mkstemp + unlink where O_TMPFILE is unsupported), is
// readable only by its owner, and disappears when closed, even after a crash.
#ifndef NETSTRUCTER_TRANSPORT_SPILL_FILE_H_
#define NETSTRUCTER_TRANSPORT_SPILL_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/socket.h"

namespace netstructer::transport {

// Resource type (move-only). Thread-compatible.
class SpillFile {
 public:
  // In `directory` ("" = $TMPDIR, else /tmp). RESOURCE_EXHAUSTED or
  // UNAVAILABLE with the reason when the file cannot be created.
  static absl::StatusOr<SpillFile> Create(const std::string& directory);

  SpillFile(SpillFile&&) noexcept = default;
  SpillFile& operator=(SpillFile&&) noexcept = default;

  // Appends; RESOURCE_EXHAUSTED (disk full) or UNAVAILABLE on failure.
  absl::Status Append(absl::string_view bytes);
  uint64_t size() const { return size_; }
  // Reads `length` bytes at `offset`. OUT_OF_RANGE past the end.
  absl::StatusOr<std::string> Read(uint64_t offset, size_t length) const;
  int fd() const { return file_.fd(); }

 private:
  explicit SpillFile(Socket file) : file_(std::move(file)) {}
  Socket file_;  // Any owned descriptor; closes on destruction.
  uint64_t size_ = 0;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_SPILL_FILE_H_
