// Private keys for `hoist build --ssh id=<key file>`: read as BuildKit's client reads them (Go's
// ssh.ParseRawPrivateKey) and held in memory to answer the agent requests of the build's steps
// (cli/ssh_key_agent.h). Unencrypted OpenSSH ("openssh-key-v1") and PEM (PKCS#1, PKCS#8, SEC 1)
// keys of type ed25519, ecdsa (nistp256/384/521) and rsa; signing with OpenSSL.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hoist::cli {

// SSH agent signature flags (draft-miller-ssh-agent): which hash an RSA key signs with.
constexpr std::uint32_t kSshAgentRsaSha256 = 2;
constexpr std::uint32_t kSshAgentRsaSha512 = 4;

class SshKey {
 public:
  ~SshKey();
  SshKey(SshKey&&) noexcept;
  SshKey& operator=(SshKey&&) noexcept;
  // The public key in the SSH wire format ("ssh-ed25519", ... and the key's fields).
  const std::string& public_blob() const { return blob_; }
  // A signature of `data` in the SSH wire format (algorithm name, signature); an RSA key signs
  // with SHA-512, SHA-256 or SHA-1 ("ssh-rsa") as `flags` ask (one of the flags, or none). As
  // Go's agent keyring (BuildKit's), other flags, or any for another type, are refused: throws
  // InvalidArgument; Error when OpenSSL fails.
  std::string sign(std::string_view data, std::uint32_t flags) const;

 private:
  friend SshKey parse_private_key(std::string_view text);
  struct Impl;
  explicit SshKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string blob_;
};

// Wipes a buffer of key material (a key file's bytes, a decoded private section) when it goes.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit();
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& s_;
};

// A key file's content (the first PEM block in it). Throws InvalidArgument with Go's words:
// "ssh: no key found", "ssh: this private key is passphrase protected" (an encrypted key),
// "ssh: unsupported key type ..." and others for what cannot be read.
SshKey parse_private_key(std::string_view text);

}  // namespace hoist::cli
