// engine/ssh_agent_client.h: the agent's replies parsed (identities, signatures, failures and
// malformed replies refused), the sign flags read from a publickey request, and the requests a
// client writes to an agent (a socket pair whose far end plays the agent).
#include "engine/ssh_agent_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file.h"
#include "common/ssh_wire.h"

namespace hoist::engine {
namespace {

std::string str(std::string_view s) {
  std::string out;
  ssh_wire::put_str(out, s);
  return out;
}

std::string u32(std::uint32_t v) {
  std::string out;
  ssh_wire::put_u32(out, v);
  return out;
}

const std::string kBlob = str("ssh-ed25519") + str(std::string(32, '\x01'));
const std::string kSig = str("ssh-ed25519") + str(std::string(64, '\x02'));

TEST(SshAgentClient, ParsesIdentitiesAndSignatures) {
  auto ids = parse_identities_answer("\x0c" + u32(2) + str(kBlob) + str("me@host") + str("k2") + str(""));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].blob, kBlob);
  EXPECT_EQ(ids[0].comment, "me@host");
  EXPECT_EQ(ids[1].blob, "k2");
  EXPECT_TRUE(parse_identities_answer("\x0c" + u32(0)).empty());
  EXPECT_EQ(key_type(kBlob), "ssh-ed25519");
  EXPECT_EQ(parse_sign_response("\x0e" + str(kSig)), kSig);
  EXPECT_EQ(signature_bytes(kSig), std::string(64, '\x02'));
}

TEST(SshAgentClient, RefusesFailuresAndMalformedReplies) {
  for (const std::string& bad : {std::string("\x05"), std::string(), std::string("\x0e") + str(kSig),
                                 "\x0c" + u32(3) + str(kBlob) + str(""), "\x0c" + u32(0) + "x",
                                 "\x0c" + u32(0xffffffff), "\x0c" + u32(1) + u32(1000) + "short"})
    EXPECT_THROW(parse_identities_answer(bad), InvalidArgument) << bad.size();
  try {
    parse_sign_response("\x05");
    ADD_FAILURE();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "ssh agent: sign response refused");
  }
  EXPECT_THROW(parse_sign_response("\x0e" + str(kSig) + "x"), InvalidArgument);
  EXPECT_THROW(parse_sign_response("\x0c" + u32(0)), InvalidArgument);
  EXPECT_THROW(signature_bytes(str("ssh-ed25519")), InvalidArgument);
  EXPECT_THROW(key_type("\x00\x00"), InvalidArgument);
}

TEST(SshAgentClient, SignFlagsFollowThePublickeyRequestsAlgorithm) {
  auto request = [](const std::string& alg) {
    return str(std::string(32, 's')) + "\x32" + str("root") + str("ssh-connection") + str("publickey") + "\x01" +
           str(alg) + str(kBlob);
  };
  EXPECT_EQ(userauth_sign_flags(request("rsa-sha2-512")), 4u);
  EXPECT_EQ(userauth_sign_flags(request("rsa-sha2-256")), 2u);
  EXPECT_EQ(userauth_sign_flags(request("ssh-rsa")), 0u);
  EXPECT_EQ(userauth_sign_flags(request("ssh-ed25519")), 0u);
  EXPECT_EQ(userauth_sign_flags("not a request"), 0u);
}

TEST(SshAgentClient, WritesRequestsAndReadsReplies) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd agent(sv[1]);
  AgentClient client{UniqueFd(sv[0])};
  // The replies written ahead: the client reads each after writing its request.
  write_all(agent.get(), str("\x0c" + u32(1) + str(kBlob) + str("c")) + str("\x0e" + str(kSig)), "agent");
  auto ids = client.identities();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0].comment, "c");
  EXPECT_EQ(client.sign(kBlob, "data", 4), kSig);
  char buf[512];
  ssize_t n = ::read(agent.get(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            str("\x0b") + str("\x0d" + str(kBlob) + str("data") + u32(4)));
  // An agent that hangs up, or announces a reply over 256 KiB.
  write_all(agent.get(), u32(300 * 1024), "agent");
  EXPECT_THROW(client.identities(), InvalidArgument);
  agent.reset();
  EXPECT_THROW(client.identities(), Error);
}

}  // namespace
}  // namespace hoist::engine
