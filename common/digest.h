// Content digests ("sha256:<hex>", "sha512:<hex>") and a streaming hasher (OpenSSL EVP).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace hoist {

enum class DigestAlgo { Sha256, Sha512 };

struct Digest {
  DigestAlgo algo = DigestAlgo::Sha256;
  std::string hex;  // lower-case, 64 (sha256) or 128 (sha512) characters

  // "sha256:<hex>". Throws Error with a clear message for anything else (unknown algorithm,
  // wrong length, upper case or non-hex characters).
  static Digest parse(std::string_view s);
  static bool valid(std::string_view s) noexcept;
  std::string str() const;
  std::string_view algo_name() const noexcept;
  bool empty() const noexcept { return hex.empty(); }
  // The 12-character short form Docker prints ("a3ed95caeb02").
  std::string short_id() const { return hex.substr(0, 12); }
  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;
};

// Incremental hash of a byte stream.
class Hasher {
 public:
  explicit Hasher(DigestAlgo algo = DigestAlgo::Sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(const void* data, std::size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest of everything fed so far; the hasher can go on afterwards.
  Digest digest() const;
  DigestAlgo algo() const noexcept { return algo_; }

 private:
  DigestAlgo algo_;
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest digest_of(std::string_view data, DigestAlgo algo = DigestAlgo::Sha256);

}  // namespace hoist
