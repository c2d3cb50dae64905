// DNS packets (the embedded DNS server's input): parse_dns_query reads nothing past the end, and
// for what parses, the answers build_dns_answer makes (A records, a PTR record, SERVFAIL) carry
// the query's ID and a question that parses back, once QR is cleared, to the same question.
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz.h"
#include "network/dns.h"

namespace {

using hoist::fuzz::fail;
namespace net = hoist::network;

// The answer's question, read back as a query: the same name, type and class.
void check_answer(const std::vector<std::uint8_t>& a, const net::DnsQuery& q, std::size_t records_size,
                  const char* what) {
  if (a.size() < 12 + 5 + records_size) fail(std::string(what) + ": answer too short");
  if ((a[0] << 8 | a[1]) != q.id) fail(std::string(what) + ": ID not copied");
  if (!(a[2] & 0x80)) fail(std::string(what) + ": QR not set");
  std::vector<std::uint8_t> back(a.begin(), a.end() - static_cast<std::ptrdiff_t>(records_size));
  back[2] &= 0x7F;
  auto again = net::parse_dns_query(back);
  if (!again) fail(std::string(what) + ": the answer's question does not parse");
  if (again->question.name != q.question.name || again->question.type != q.question.type ||
      again->question.klass != q.question.klass)
    fail(std::string(what) + ": question \"" + q.question.name + "\" came back as \"" + again->question.name + "\"");
  if (again->question_end != back.size()) fail(std::string(what) + ": bytes after the question");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::span<const std::uint8_t> msg(data, size);
  auto q = net::parse_dns_query(msg);
  if (!q) return 0;
  if (q->question_end > size || q->question_end < 12 + 5) fail("question_end out of the message");
  if (q->question.name.size() > 4 * 255) fail("name longer than 255 bytes could spell");
  for (char c : q->question.name)
    if (c >= 'A' && c <= 'Z') fail("upper case in \"" + q->question.name + "\"");

  check_answer(net::build_dns_answer(msg, *q, {0x0A000001, 0xAC110002}, "", 0), *q, 2 * 16, "A");
  check_answer(net::build_dns_answer(msg, *q, {}, "web.net1", 0), *q, 12 + 10, "PTR");
  check_answer(net::build_dns_answer(msg, *q, {}, "", 2), *q, 0, "SERVFAIL");
  return 0;
}
