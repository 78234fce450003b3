#include "netstructer/service/cidr.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/service/ip_address.h"

namespace netstructer {
namespace service {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(const std::string& text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << text << ": " << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

CidrRange Range(const std::string& text) {
  absl::StatusOr<CidrRange> range = CidrRange::Parse(text);
  EXPECT_TRUE(range.ok()) << text << ": " << range.status();
  return range.ok() ? *range : CidrRange::Containing(IpAddress(), 32);
}

struct ValidCase {
  std::string text;
  std::string canonical;
  int prefix_length;
};

TEST(CidrRange, ParsesValidRangesToCanonicalText) {
  const std::vector<ValidCase> cases = {
      {"10.0.0.0/8", "10.0.0.0/8", 8},
      {"192.168.0.0/16", "192.168.0.0/16", 16},
      {"10.128.0.0/9", "10.128.0.0/9", 9},
      {"0.0.0.0/0", "0.0.0.0/0", 0},
      {"203.0.113.7/32", "203.0.113.7/32", 32},
      {"2001:db8::/32", "2001:db8::/32", 32},
      {"2001:DB8::/32", "2001:db8::/32", 32},
      {"::/0", "::/0", 0},
      {"::1/128", "::1/128", 128},
      {"fe80::/10", "fe80::/10", 10},
      // A bare address is the /32 or /128 of that address.
      {"192.0.2.1", "192.0.2.1/32", 32},
      {"::1", "::1/128", 128},
      // IPv4-mapped ranges are IPv4 ranges.
      {"::ffff:10.0.0.0/104", "10.0.0.0/8", 8},
      {"::ffff:0:0/96", "0.0.0.0/0", 0},
      {"::ffff:1.2.3.4", "1.2.3.4/32", 32},
      {"::ffff:1.2.3.4/128", "1.2.3.4/32", 32},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<CidrRange> range = CidrRange::Parse(c.text);
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_EQ(range->ToString(), c.canonical);
    EXPECT_EQ(range->prefix_length(), c.prefix_length);
    EXPECT_EQ(Range(range->ToString()), *range);
    EXPECT_TRUE(range->Contains(range->network()));
  }
}

TEST(CidrRange, HostBitsSetIsInvalidArgumentWithSuggestion) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"10.0.0.1/8", "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
      {"10.1.2.3/16",
       "10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?"},
      {"10.192.0.0/9",
       "10.192.0.0/9 has host bits set; did you mean 10.128.0.0/9?"},
      {"1.2.3.4/0", "1.2.3.4/0 has host bits set; did you mean 0.0.0.0/0?"},
      {"2001:db8::1/32",
       "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?"},
      {"::1/0", "::1/0 has host bits set; did you mean ::/0?"},
      {"::ffff:10.0.0.1/104",
       "::ffff:10.0.0.1/104 has host bits set; did you mean 10.0.0.0/8?"},
      {"::ffff:1.2.3.4/64",
       "::ffff:1.2.3.4/64 has host bits set; did you mean ::/64?"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<CidrRange> range = CidrRange::Parse(c.text);
    ASSERT_FALSE(range.ok());
    EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(range.status().message(), c.message);
  }
}

TEST(CidrRange, MalformedInputIsInvalidArgumentNamingIt) {
  struct Case {
    std::string text;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"10.0.0.0/33", "out of range for IPv4 (0-32)"},
      {"::/129", "out of range for IPv6 (0-128)"},
      {"10.0.0.0/1000", "\"10.0.0.0/1000\""},
      {"10.0.0.0/", "prefix length"},
      {"10.0.0.0/-1", "prefix length"},
      {"10.0.0.0/+8", "prefix length"},
      {"10.0.0.0/08", "leading zeros"},
      {"10.0.0.0/8/8", "\"10.0.0.0/8/8\""},
      {"10.0.0.0/ 8", "prefix length"},
      {"10.0.0.0/8 ", "prefix length"},
      {"10.0.0/8", "\"10.0.0/8\""},
      {"/8", "\"/8\""},
      {"", "not a CIDR range"},
      {"garbage", "\"garbage\""},
      {"garbage/8", "\"garbage/8\""},
      {"fe80::%eth0/10", "zone ids"},
      {"[::1]/128", "brackets"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<CidrRange> range = CidrRange::Parse(c.text);
    ASSERT_FALSE(range.ok());
    EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(range.status().message()),
                HasSubstr(c.message_part));
  }
}

struct ContainsCase {
  std::string range;
  std::string ip;
  bool contains;
};

TEST(CidrRange, ContainsIPv4Edges) {
  const std::vector<ContainsCase> cases = {
      {"0.0.0.0/0", "0.0.0.0", true},
      {"0.0.0.0/0", "255.255.255.255", true},
      {"0.0.0.0/0", "::", false},
      {"0.0.0.0/0", "::1", false},
      {"10.0.0.0/8", "10.0.0.0", true},
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},  // Dual-stack peer.
      {"10.0.0.0/8", "::10.1.2.3", false},      // Not mapped: IPv6.
      {"10.128.0.0/9", "10.128.0.0", true},
      {"10.128.0.0/9", "10.255.255.255", true},
      {"10.128.0.0/9", "10.127.255.255", false},
      {"192.0.2.2/31", "192.0.2.3", true},
      {"192.0.2.2/31", "192.0.2.4", false},
      {"192.0.2.2/31", "192.0.2.1", false},
      {"203.0.113.7/32", "203.0.113.7", true},
      {"203.0.113.7/32", "203.0.113.6", false},
      {"203.0.113.7/32", "203.0.113.8", false},
  };
  for (const ContainsCase& c : cases) {
    SCOPED_TRACE(c.range + " " + c.ip);
    EXPECT_EQ(Range(c.range).Contains(Ip(c.ip)), c.contains);
  }
}

TEST(CidrRange, ContainsIPv6Edges) {
  const std::vector<ContainsCase> cases = {
      {"::/0", "::", true},
      {"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"::/0", "0.0.0.0", false},
      {"::/0", "1.2.3.4", false},
      {"::/0", "::ffff:1.2.3.4", false},  // Normalised to IPv4.
      {"::1/128", "::1", true},
      {"::1/128", "::2", false},
      {"::1/128", "::", false},
      {"2001:db8::/32", "2001:db8::", true},
      {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"2001:db8::/32", "2001:db9::", false},
      {"2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
      {"fe80::/10", "febf::1", true},
      {"fe80::/10", "fec0::1", false},
      {"2001:db8::/127", "2001:db8::1", true},
      {"2001:db8::/127", "2001:db8::2", false},
  };
  for (const ContainsCase& c : cases) {
    SCOPED_TRACE(c.range + " " + c.ip);
    EXPECT_EQ(Range(c.range).Contains(Ip(c.ip)), c.contains);
  }
}

TEST(CidrRange, CreateChecksPrefixAndHostBits) {
  absl::StatusOr<CidrRange> range = CidrRange::Create(Ip("10.0.0.0"), 8);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, Range("10.0.0.0/8"));

  range = CidrRange::Create(Ip("10.0.0.1"), 8);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(range.status().message(),
            "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");

  EXPECT_EQ(CidrRange::Create(Ip("10.0.0.0"), 33).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CidrRange::Create(Ip("10.0.0.0"), -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CidrRange::Create(Ip("::"), 129).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CidrRange::Create(Ip("::"), 128).ok());
}

TEST(CidrRange, ContainingClearsHostBitsAndClampsPrefix) {
  EXPECT_EQ(CidrRange::Containing(Ip("10.1.2.3"), 8), Range("10.0.0.0/8"));
  EXPECT_EQ(CidrRange::Containing(Ip("10.1.2.3"), 99), Range("10.1.2.3/32"));
  EXPECT_EQ(CidrRange::Containing(Ip("10.1.2.3"), -5), Range("0.0.0.0/0"));
  EXPECT_EQ(CidrRange::Containing(Ip("2001:db8::1"), 64),
            Range("2001:db8::/64"));
}

TEST(CidrRange, EqualityOrderingAndHash) {
  EXPECT_EQ(Range("10.0.0.0/8"), Range("::ffff:10.0.0.0/104"));
  EXPECT_NE(Range("10.0.0.0/8"), Range("10.0.0.0/9"));
  EXPECT_NE(Range("0.0.0.0/0"), Range("::/0"));
  EXPECT_TRUE(Range("10.0.0.0/8") < Range("10.0.0.0/9"));
  EXPECT_TRUE(Range("10.0.0.0/9") < Range("11.0.0.0/8"));
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      Range("10.0.0.0/8"),
      Range("10.0.0.0/9"),
      Range("0.0.0.0/0"),
      Range("::/0"),
      Range("::1/128"),
      Range("2001:db8::/32"),
  }));
  absl::flat_hash_set<CidrRange> set = {Range("10.0.0.0/8"),
                                        Range("::ffff:10.0.0.0/104")};
  EXPECT_EQ(set.size(), 1u);
}

}  // namespace
}  // namespace service
}  // namespace netstructer
