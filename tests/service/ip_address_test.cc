#include "netstructer/service/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace netstructer {
namespace service {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(const std::string& text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << text << ": " << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

struct ValidCase {
  std::string text;
  std::string canonical;
  IpAddress::Family family;
};

TEST(IpAddress, ParsesValidAddressesToCanonicalText) {
  const std::vector<ValidCase> cases = {
      {"127.0.0.1", "127.0.0.1", IpAddress::Family::kIPv4},
      {"0.0.0.0", "0.0.0.0", IpAddress::Family::kIPv4},
      {"255.255.255.255", "255.255.255.255", IpAddress::Family::kIPv4},
      {"192.0.2.1", "192.0.2.1", IpAddress::Family::kIPv4},
      {"::1", "::1", IpAddress::Family::kIPv6},
      {"::", "::", IpAddress::Family::kIPv6},
      {"fe80::1", "fe80::1", IpAddress::Family::kIPv6},
      {"FE80::A", "fe80::a", IpAddress::Family::kIPv6},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1",
       IpAddress::Family::kIPv6},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", IpAddress::Family::kIPv6},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", IpAddress::Family::kIPv6},
      // IPv4-mapped: normalised to IPv4.
      {"::ffff:1.2.3.4", "1.2.3.4", IpAddress::Family::kIPv4},
      {"::FFFF:c000:0201", "192.0.2.1", IpAddress::Family::kIPv4},
      {"0:0:0:0:0:ffff:7f00:1", "127.0.0.1", IpAddress::Family::kIPv4},
      // IPv4-compatible (deprecated) and SIIT forms are not mapped: IPv6.
      {"::1.2.3.4", "::1.2.3.4", IpAddress::Family::kIPv6},
      {"::ffff:0:1.2.3.4", "::ffff:0:102:304", IpAddress::Family::kIPv6},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(c.text);
    ASSERT_TRUE(ip.ok()) << ip.status();
    EXPECT_EQ(ip->ToString(), c.canonical);
    EXPECT_EQ(ip->family(), c.family);
    EXPECT_EQ(ip->bytes().size(),
              c.family == IpAddress::Family::kIPv4 ? 4u : 16u);
    EXPECT_EQ(ip->bit_length(),
              c.family == IpAddress::Family::kIPv4 ? 32 : 128);
    // The canonical text parses back to an equal address.
    EXPECT_EQ(Ip(ip->ToString()), *ip);
  }
}

struct InvalidCase {
  std::string text;
  std::string message_part;
};

TEST(IpAddress, RejectsInvalidTextWithInvalidArgumentNamingIt) {
  const std::vector<InvalidCase> cases = {
      {"", "empty"},
      {"1.2.3", "\"1.2.3\""},
      {"1.2.3.4.5", "\"1.2.3.4.5\""},
      {"01.2.3.4", "no"},  // No leading zeros (octal ambiguity).
      {"01.2.3.4", "\"01.2.3.4\""},
      {"256.0.0.1", "0-255"},
      {"0x7f.0.0.1", "\"0x7f.0.0.1\""},
      {" 1.2.3.4", "\" 1.2.3.4\""},
      {"1.2.3.4 ", "\"1.2.3.4 \""},
      {"localhost", "\"localhost\""},
      {"fe80::1%eth0", "zone ids"},
      {"fe80::1%eth0", "\"fe80::1%eth0\""},
      {"[::1]", "brackets"},
      {"1.2.3.4:80", "HOST:PORT"},
      {"10.0.0.0/8", "prefix length"},
      {"1::2::3", "malformed IPv6"},
      {"1:2:3:4:5:6:7:8:9", "\"1:2:3:4:5:6:7:8:9\""},
      {"::ffff:01.2.3.4", "\"::ffff:01.2.3.4\""},
      {std::string("1.2.3.4\0", 8), "NUL"},
      {std::string("\x01\xff", 2), "\"\\x01\\xff\""},  // Escaped.
      {std::string(300, '1'), "too long"},
      {std::string(300, '1'), "..."},  // Cut short.
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(c.text);
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ip.status().message()), HasSubstr(c.message_part));
  }
}

TEST(IpAddress, DefaultIsIPv4Any) {
  EXPECT_EQ(IpAddress(), Ip("0.0.0.0"));
  EXPECT_TRUE(IpAddress().is_ipv4());
}

TEST(IpAddress, FromSockaddrIPv4) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(9000);
  ASSERT_EQ(inet_pton(AF_INET, "203.0.113.7", &in.sin_addr), 1);
  absl::StatusOr<IpAddress> ip = IpAddress::FromSockaddr(
      reinterpret_cast<const sockaddr*>(&in), sizeof(in));
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->ToString(), "203.0.113.7");

  sockaddr_storage storage{};
  std::memcpy(&storage, &in, sizeof(in));
  ip = IpAddress::FromSockaddr(storage);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(*ip, Ip("203.0.113.7"));
}

TEST(IpAddress, FromSockaddrIPv6IgnoresPortAndScope) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(9000);
  in6.sin6_scope_id = 2;
  ASSERT_EQ(inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr), 1);
  absl::StatusOr<IpAddress> ip = IpAddress::FromSockaddr(
      reinterpret_cast<const sockaddr*>(&in6), sizeof(in6));
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(*ip, Ip("fe80::1"));
}

TEST(IpAddress, FromSockaddrNormalisesIPv4MappedPeerOfDualStackSocket) {
  sockaddr_storage storage{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  in6->sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:192.0.2.1", &in6->sin6_addr), 1);
  absl::StatusOr<IpAddress> ip = IpAddress::FromSockaddr(storage);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_TRUE(ip->is_ipv4());
  EXPECT_EQ(*ip, Ip("192.0.2.1"));
}

TEST(IpAddress, FromSockaddrRejectsOtherFamiliesShortLengthsAndNull) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  absl::StatusOr<IpAddress> ip = IpAddress::FromSockaddr(
      reinterpret_cast<const sockaddr*>(&un), sizeof(un));
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ip.status().message()), HasSubstr("AF_INET"));

  sockaddr_in in{};
  in.sin_family = AF_INET;
  ip = IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&in),
                               sizeof(in) - 1);
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  ip = IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&in6),
                               sizeof(sockaddr_in));
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);

  ip = IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&in), 1);
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);

  ip = IpAddress::FromSockaddr(nullptr, sizeof(sockaddr_in));
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IpAddress, FromBytes) {
  EXPECT_EQ(IpAddress::FromIPv4Bytes({192, 0, 2, 1}), Ip("192.0.2.1"));
  EXPECT_EQ(IpAddress::FromIPv6Bytes(
                {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}),
            Ip("192.0.2.1"));
  EXPECT_EQ(IpAddress::FromIPv6Bytes(
                {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
            Ip("::1"));
}

TEST(IpAddress, EqualityDistinguishesFamilies) {
  EXPECT_EQ(Ip("10.0.0.1"), Ip("::ffff:10.0.0.1"));
  EXPECT_NE(Ip("0.0.0.0"), Ip("::"));
  EXPECT_NE(Ip("1.2.3.4"), Ip("::1.2.3.4"));
  EXPECT_NE(Ip("10.0.0.1"), Ip("10.0.0.2"));
}

TEST(IpAddress, OrderingPutsIPv4FirstThenBytes) {
  std::vector<IpAddress> ips = {Ip("::1"),      Ip("10.0.0.2"),
                                Ip("::"),       Ip("9.255.255.255"),
                                Ip("10.0.0.1"), Ip("fe80::1")};
  std::sort(ips.begin(), ips.end());
  std::vector<std::string> texts;
  for (const IpAddress& ip : ips) texts.push_back(ip.ToString());
  EXPECT_EQ(texts,
            (std::vector<std::string>{"9.255.255.255", "10.0.0.1", "10.0.0.2",
                                      "::", "::1", "fe80::1"}));
  EXPECT_TRUE(Ip("255.255.255.255") < Ip("::"));
  EXPECT_TRUE(Ip("::") > Ip("255.255.255.255"));
  EXPECT_TRUE(Ip("1.1.1.1") <= Ip("1.1.1.1"));
  EXPECT_TRUE(Ip("1.1.1.1") >= Ip("1.1.1.1"));
}

TEST(IpAddress, HashesConsistentlyWithEquality) {
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      IpAddress(),
      Ip("0.0.0.0"),
      Ip("::"),
      Ip("10.0.0.1"),
      Ip("::ffff:10.0.0.1"),
      Ip("::1"),
      Ip("fe80::1"),
  }));
  absl::flat_hash_set<IpAddress> set = {Ip("1.2.3.4"), Ip("::ffff:1.2.3.4"),
                                        Ip("::1.2.3.4")};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace service
}  // namespace netstructer
