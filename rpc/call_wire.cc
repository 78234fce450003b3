#include "netstructer/rpc/call_wire.h"

#include "absl/strings/str_cat.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/handshake_messages.h"

namespace netstructer::rpc {

namespace big_endian = transport::big_endian;

std::string EncodePrefixed(const google::protobuf::MessageLite& message) {
  const size_t n = message.ByteSizeLong();
  std::string out(4, '\0');
  big_endian::Store32(static_cast<uint32_t>(n), out.data());
  message.AppendToString(&out);
  return out;
}

absl::StatusOr<absl::string_view> ParsePrefixed(
    absl::string_view payload, google::protobuf::MessageLite* out) {
  if (payload.size() < 4) {
    return absl::DataLossError("a HEADERS or TRAILERS frame lacks its prefix");
  }
  const uint32_t n = big_endian::Load32(payload.data());
  if (n > payload.size() - 4 || n > kMaxCallPrefixBytes) {
    return absl::DataLossError("malformed call headers or trailers");
  }
  if (!out->ParseFromArray(payload.data() + 4, static_cast<int>(n))) {
    return absl::DataLossError("call headers or trailers do not parse");
  }
  return payload.substr(4 + n);
}

std::string MessageHeader(uint64_t size) {
  std::string out(transport::kMessageHeaderBytes, '\0');
  big_endian::Store64(size, out.data());
  out[8] = static_cast<char>(kMethodMessageKind);
  return out;
}

void ToWire(const Metadata& metadata,
            google::protobuf::RepeatedPtrField<MetadataEntry>* out) {
  for (const auto& [key, value] : metadata) {
    MetadataEntry* e = out->Add();
    e->set_key(key);
    e->set_value(value);
  }
}

absl::StatusOr<Metadata> FromWire(
    const google::protobuf::RepeatedPtrField<MetadataEntry>& entries) {
  Metadata out;
  out.reserve(entries.size());
  for (const MetadataEntry& e : entries) out.emplace_back(e.key(), e.value());
  if (absl::Status s = ValidateMetadata(out); !s.ok()) {
    return absl::DataLossError(absl::StrCat("the peer sent bad metadata: ",
                                            s.message()));
  }
  return out;
}

CallTrailers TrailersFor(const absl::Status& status, const Metadata& metadata) {
  CallTrailers t;
  t.set_code(static_cast<uint32_t>(status.code()));
  t.set_message(
      transport::SanitizeUtf8(status.message(), kMaxStatusMessageBytes));
  ToWire(metadata, t.mutable_metadata());
  return t;
}

absl::Status StatusFrom(const CallTrailers& trailers) {
  if (trailers.code() > 16) {
    return absl::DataLossError(
        absl::StrCat("the server sent status code ", trailers.code()));
  }
  return absl::Status(static_cast<absl::StatusCode>(trailers.code()),
                      trailers.message());
}

// CANCEL's payload is the REFUSAL payload of section 7.5 (code 1..16,
// strict UTF-8 reason of at most 512 bytes): one encoder, one decoder.
std::string EncodeCancel(const absl::Status& status) {
  return transport::EncodeRefusal(status);
}

absl::Status DecodeCancel(absl::string_view payload, absl::Status* carried) {
  absl::StatusOr<transport::Refusal> cancel = transport::DecodeRefusal(payload);
  if (!cancel.ok()) {
    return absl::DataLossError(absl::StrCat(
        "malformed CANCEL frame (", cancel.status().message(), ")"));
  }
  *carried = absl::Status(cancel->code, cancel->reason);
  return absl::OkStatus();
}

}  // namespace netstructer::rpc
