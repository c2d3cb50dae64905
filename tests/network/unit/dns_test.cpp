// The embedded DNS server's messages: queries parsed strictly (RFC 1035 header and first
// question, compression pointers that cannot loop, nothing read past the end) and the answers it
// builds, checked byte for byte and through a small decoder of the test's own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "network/dns.h"
#include "network/ipam.h"

namespace net = hoist::network;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint16_t kA = 1, kPtr = 12, kAaaa = 28, kIn = 1, kRd = 0x0100;

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

// A name in wire form from its labels ("web", "net1").
Bytes labels(const std::vector<std::string>& ls) {
  Bytes b;
  for (const auto& l : ls) {
    b.push_back(static_cast<std::uint8_t>(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
  return b;
}

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qdcount, std::uint16_t arcount = 0) {
  Bytes b;
  put16(b, id);
  put16(b, flags);
  put16(b, qdcount);
  put16(b, 0);
  put16(b, 0);
  put16(b, arcount);
  return b;
}

// A standard query as a stub resolver sends it: header, one question.
Bytes query(std::uint16_t id, const Bytes& name, std::uint16_t type, std::uint16_t flags = kRd) {
  Bytes b = header(id, flags, 1);
  b.insert(b.end(), name.begin(), name.end());
  put16(b, type);
  put16(b, kIn);
  return b;
}

std::optional<net::DnsQuery> parse(const Bytes& b) { return net::parse_dns_query(b); }

// The test's own reader of the answers: trusts the input to be well formed but stays in bounds.
struct Record {
  std::string name;
  std::uint16_t type = 0, klass = 0;
  std::uint32_t ttl = 0;
  Bytes rdata;
  std::size_t rdata_at = 0;
};
struct Message {
  std::uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  std::string qname;
  std::uint16_t qtype = 0, qclass = 0;
  std::vector<Record> answers;
};

struct Reader {
  const Bytes& b;
  std::size_t pos = 0;
  std::uint16_t u16() {
    if (pos + 2 > b.size()) throw std::runtime_error("short message");
    pos += 2;
    return static_cast<std::uint16_t>(b[pos - 2] << 8 | b[pos - 1]);
  }
  std::uint32_t u32() {
    std::uint32_t hi = u16();
    return hi << 16 | u16();
  }
  std::string name_at(std::size_t& p, int depth = 0) const {
    if (depth > 10) throw std::runtime_error("pointer loop");
    std::string out;
    for (;;) {
      if (p >= b.size()) throw std::runtime_error("name past the end");
      std::uint8_t len = b[p];
      if ((len & 0xC0) == 0xC0) {
        std::size_t target = (len & 0x3F) << 8 | b.at(p + 1);
        p += 2;
        std::string rest = name_at(target, depth + 1);
        return out.empty() ? rest : rest.empty() ? out : out + "." + rest;
      }
      ++p;
      if (len == 0) return out;
      if (p + len > b.size()) throw std::runtime_error("label past the end");
      if (!out.empty()) out += '.';
      out.append(b.begin() + static_cast<std::ptrdiff_t>(p), b.begin() + static_cast<std::ptrdiff_t>(p + len));
      p += len;
    }
  }
  std::string name() { return name_at(pos); }
};

Message decode(const Bytes& b) {
  Reader r{b};
  Message m;
  m.id = r.u16();
  m.flags = r.u16();
  m.qdcount = r.u16();
  m.ancount = r.u16();
  m.nscount = r.u16();
  m.arcount = r.u16();
  if (m.qdcount != 1) throw std::runtime_error("qdcount " + std::to_string(m.qdcount));
  m.qname = r.name();
  m.qtype = r.u16();
  m.qclass = r.u16();
  for (int i = 0; i < m.ancount; ++i) {
    Record rr;
    rr.name = r.name();
    rr.type = r.u16();
    rr.klass = r.u16();
    rr.ttl = r.u32();
    std::size_t len = r.u16();
    if (r.pos + len > b.size()) throw std::runtime_error("rdata past the end");
    rr.rdata_at = r.pos;
    rr.rdata.assign(b.begin() + static_cast<std::ptrdiff_t>(r.pos),
                    b.begin() + static_cast<std::ptrdiff_t>(r.pos + len));
    r.pos += len;
    m.answers.push_back(rr);
  }
  if (r.pos != b.size()) throw std::runtime_error("trailing bytes");
  return m;
}

std::uint32_t ip(const char* s) { return *net::parse_ipv4(s); }

}  // namespace

TEST(DnsParse, AStandardQuery) {
  auto b = query(0xBEEF, labels({"web", "net1"}), kA);
  auto q = parse(b);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->id, 0xBEEF);
  EXPECT_EQ(q->flags, kRd);
  EXPECT_EQ(q->question.name, "web.net1");
  EXPECT_EQ(q->question.type, kA);
  EXPECT_EQ(q->question.klass, kIn);
  EXPECT_EQ(q->question_end, b.size());
}

TEST(DnsParse, NamesAreLowerCasedAndOddBytesEscaped) {
  auto q = parse(query(1, labels({"WeB", "NET1"}), kA));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "web.net1");
  // A dot or a backslash inside a label, a space, a byte over 0x7e: \DDD, so "a.b" as one label
  // is never the two labels "a" and "b".
  q = parse(query(1, labels({std::string("a.b"), std::string("c\\ d"), std::string("\xff\x01")}), kA));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "a\\046b.c\\092\\032d.\\255\\001");
  q = parse(query(1, labels({}), 2));  // the root (NS .)
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "");
  EXPECT_EQ(q->question.type, 2);
}

TEST(DnsParse, ReverseAndAaaaQuestions) {
  auto q = parse(query(7, labels({"2", "0", "17", "172", "in-addr", "arpa"}), kPtr));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "2.0.17.172.in-addr.arpa");
  EXPECT_EQ(q->question.type, kPtr);
  q = parse(query(7, labels({"web"}), kAaaa));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.type, kAaaa);
}

TEST(DnsParse, OnlyStandardQueriesWithAQuestion) {
  auto name = labels({"web"});
  EXPECT_FALSE(parse(query(1, name, kA, 0x8000 | kRd))) << "a response";
  EXPECT_FALSE(parse(query(1, name, kA, 1 << 11))) << "IQUERY";
  EXPECT_FALSE(parse(query(1, name, kA, 2 << 11))) << "STATUS";
  EXPECT_FALSE(parse(query(1, name, kA, 5 << 11))) << "UPDATE";
  auto none = query(1, name, kA);
  none[5] = 0;  // QDCOUNT 0
  EXPECT_FALSE(parse(none));
  EXPECT_FALSE(parse({}));
  EXPECT_FALSE(parse(header(1, kRd, 1))) << "a header alone";
  // Flags the server does not care about are kept as they came.
  auto cd = parse(query(1, name, kA, kRd | 0x0010 | 0x0200));
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->flags, kRd | 0x0010 | 0x0200);
}

TEST(DnsParse, FirstQuestionOfSeveralAndAdditionalRecordsIgnored) {
  Bytes b = header(9, kRd, 2, 1);
  auto n1 = labels({"one"});
  b.insert(b.end(), n1.begin(), n1.end());
  put16(b, kA);
  put16(b, kIn);
  const std::size_t end = b.size();
  b.insert(b.end(), {0xC0, 12});  // the second question points at the first name
  put16(b, kAaaa);
  put16(b, kIn);
  // an EDNS0 OPT record
  b.insert(b.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  auto q = parse(b);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "one");
  EXPECT_EQ(q->question_end, end);
}

TEST(DnsParse, LabelAndNameLimits) {
  std::string l63(63, 'a'), l62(62, 'b'), l61(61, 'c');
  // 3 × (1 + 63) + (1 + 61) + 1 = 255 bytes: the longest name there is.
  auto q = parse(query(1, labels({l63, l63, l63, l61}), kA));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name.size(), 3u * 64 + 61);
  EXPECT_FALSE(parse(query(1, labels({l63, l63, l63, l62}), kA))) << "256 bytes";
  EXPECT_FALSE(parse(query(1, labels({l63, l63, l63, l63, "x"}), kA)));
  // A length byte of 64 to 191 is one of the reserved label types 01 and 10, not a length.
  for (std::uint8_t len : {0x40, 0x7F, 0x80, 0xBF}) {
    Bytes name{len};
    name.insert(name.end(), len & 0x3F, 'a');
    name.push_back(0);
    EXPECT_FALSE(parse(query(1, name, kA))) << int(len);
  }
}

TEST(DnsParse, CompressionPointersGoBackOnly) {
  // A pointer of the first question can only point into the header: an ID of 01 'a' and flags
  // 00 00 read as the name "a" from offset 0.
  Bytes b = header(0x0161, 0x0000, 1);
  Bytes tail{3, 'w', 'w', 'w', 0xC0, 0x00};
  b.insert(b.end(), tail.begin(), tail.end());
  put16(b, kA);
  put16(b, kIn);
  auto q = parse(b);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->question.name, "www.a");
  EXPECT_EQ(q->question_end, b.size()) << "the name ends after the pointer, not where it led";

  // The answer repeats the question with its name spelled out: the pointer would mean
  // something else in the answer's header.
  auto a = net::build_dns_answer(b, *q, {ip("10.0.0.1")}, "", 0);
  auto m = decode(a);
  EXPECT_EQ(m.qname, "www.a");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "www.a");
}

TEST(DnsParse, CompressionLoopsAndBadPointersRefused) {
  auto with_name = [](Bytes h, const Bytes& name) {
    h.insert(h.end(), name.begin(), name.end());
    put16(h, kA);
    put16(h, kIn);
    return h;
  };
  // to itself
  EXPECT_FALSE(parse(with_name(header(1, 0, 1), {0xC0, 12})));
  // forward, to a valid name after it
  EXPECT_FALSE(parse(with_name(header(1, 0, 1), {0xC0, 14, 1, 'a', 0})));
  // to the start of its own name: a loop "a.a.a..."
  EXPECT_FALSE(parse(with_name(header(1, 0, 1), {1, 'a', 0xC0, 12})));
  // header at 0 is a pointer back to 12, which points to 0: 12 → 0 → 12
  EXPECT_FALSE(parse(with_name(header(0xC00C, 0, 1), {0xC0, 0})));
  // a pointer's second byte missing
  Bytes cut = header(1, 0, 1);
  cut.push_back(0xC0);
  EXPECT_FALSE(parse(cut));
  // far past the end
  EXPECT_FALSE(parse(with_name(header(1, 0, 1), {0xFF, 0xFF})));
}

TEST(DnsParse, EveryTruncationRefusedNothingReadPastTheEnd) {
  for (const auto& full : {query(0x4242, labels({"web", "net1"}), kA),
                           query(1, labels({"2", "0", "17", "172", "in-addr", "arpa"}), kPtr)}) {
    auto q = parse(full);
    ASSERT_TRUE(q);
    for (std::size_t n = 0; n < full.size(); ++n) {
      Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));  // exact size: ASan sees overreads
      EXPECT_FALSE(parse(cut)) << n;
    }
    // With bytes after the question (other records), still the same question.
    Bytes more = full;
    more.push_back(0);
    auto again = parse(more);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->question_end, q->question_end);
  }
}

TEST(DnsAnswer, ARecordsByteExact) {
  auto b = query(0x1234, labels({"web"}), kA);
  auto q = parse(b);
  ASSERT_TRUE(q);
  auto a = net::build_dns_answer(b, *q, {ip("172.17.0.2"), ip("172.17.0.3")}, "", 0);
  // clang-format off
  const Bytes want{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,  // QR RD RA, 1 question, 2 answers
                   3, 'w', 'e', 'b', 0, 0, 1, 0, 1,                 // the question as sent
                   0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 172, 17, 0, 2,
                   0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 172, 17, 0, 3};
  // clang-format on
  EXPECT_EQ(a, want);
  auto m = decode(a);
  EXPECT_EQ(m.qname, "web");
  ASSERT_EQ(m.answers.size(), 2u);
  for (const auto& rr : m.answers) {
    EXPECT_EQ(rr.name, "web");
    EXPECT_EQ(rr.type, kA);
    EXPECT_EQ(rr.klass, kIn);
    EXPECT_EQ(rr.ttl, 600u);
  }
}

TEST(DnsAnswer, QuestionCopiedWithItsCaseFlagsAndRcode) {
  // A client randomising the case (DNS 0x20) gets its own spelling back.
  auto b = query(0xABCD, labels({"WeB", "Net1"}), kA, 0);
  auto q = parse(b);
  ASSERT_TRUE(q);
  auto a = net::build_dns_answer(b, *q, {}, "", 3);
  EXPECT_EQ(Bytes(a.begin() + 12, a.end()), Bytes(b.begin() + 12, b.end()));
  auto m = decode(a);
  EXPECT_EQ(m.id, 0xABCD);
  EXPECT_EQ(m.flags, 0x8083) << "QR, RA, NXDOMAIN; RD not asked, none";
  EXPECT_EQ(m.ancount, 0);
  EXPECT_EQ(m.nscount, 0);
  EXPECT_EQ(m.arcount, 0);

  b = query(1, labels({"x"}), kA, kRd | 0x0010 | 0x0400);  // CD and AA in a query: not echoed
  q = parse(b);
  ASSERT_TRUE(q);
  EXPECT_EQ(decode(net::build_dns_answer(b, *q, {}, "", 2)).flags, 0x8182);
  EXPECT_EQ(decode(net::build_dns_answer(b, *q, {}, "", 0)).flags, 0x8180);
}

TEST(DnsAnswer, PtrRecord) {
  auto b = query(5, labels({"2", "0", "17", "172", "in-addr", "arpa"}), kPtr);
  auto q = parse(b);
  ASSERT_TRUE(q);
  auto a = net::build_dns_answer(b, *q, {}, "web.net1", 0);
  auto m = decode(a);
  EXPECT_EQ(m.flags, 0x8180);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "2.0.17.172.in-addr.arpa");
  EXPECT_EQ(m.answers[0].type, kPtr);
  EXPECT_EQ(m.answers[0].ttl, 600u);
  EXPECT_EQ(m.answers[0].rdata, labels({"web", "net1"}));
  // A trailing dot is the same name.
  EXPECT_EQ(net::build_dns_answer(b, *q, {}, "web.net1.", 0), a);
  // Names that have no wire form.
  for (const std::string& bad : {std::string("a..b"), std::string(".a"), std::string("a.."), std::string(64, 'x')})
    EXPECT_THROW(net::build_dns_answer(b, *q, {}, bad, 0), hoist::InvalidArgument) << bad;
  std::string l63(63, 'a');
  EXPECT_NO_THROW(net::build_dns_answer(b, *q, {}, l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b'), 0));
  EXPECT_THROW(net::build_dns_answer(b, *q, {}, l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b'), 0),
               hoist::InvalidArgument);
}

TEST(DnsAnswer, TheQuestionMustBeTheMessages) {
  auto b = query(5, labels({"web"}), kA);
  auto q = parse(b);
  ASSERT_TRUE(q);
  auto other = *q;
  other.question_end = b.size() + 1;
  EXPECT_THROW(net::build_dns_answer(b, other, {}, "", 0), hoist::InvalidArgument);
  other.question_end = b.size() - 1;
  EXPECT_THROW(net::build_dns_answer(b, other, {}, "", 0), hoist::InvalidArgument);
  EXPECT_THROW(net::build_dns_answer(Bytes(b.begin(), b.begin() + 11), *q, {}, "", 0), hoist::InvalidArgument);
}

TEST(DnsAnswer, ManyAddresses) {
  auto b = query(5, labels({"web"}), kA);
  auto q = parse(b);
  ASSERT_TRUE(q);
  std::vector<std::uint32_t> many;
  for (std::uint32_t i = 0; i < 1000; ++i) many.push_back(ip("10.0.0.0") + i);
  auto m = decode(net::build_dns_answer(b, *q, many, "", 0));
  ASSERT_EQ(m.answers.size(), 1000u);
  EXPECT_EQ(m.answers[999].rdata, (Bytes{10, 0, 3, 231}));
  // More than a message holds (65,535 bytes)
  many.resize(5000, 1);
  EXPECT_THROW(net::build_dns_answer(b, *q, many, "", 0), hoist::InvalidArgument);
}
