#include "common/digest.h"

// OpenSSL's one-algorithm SHA-2 functions: the same (hardware-accelerated) code as EVP's, without
// the provider machinery that EVP brings into a process (~1.4 MiB more of libcrypto resident in
// hoistd). Deprecated in OpenSSL 3 in favour of EVP, still part of its API.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/error.h"

namespace hoist {

namespace {
std::size_t hex_len(DigestAlgo a) { return a == DigestAlgo::Sha256 ? 64 : 128; }
bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
}  // namespace

Digest Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos)
    throw Error("invalid digest \"" + std::string(s) + "\": expected algorithm:hex");
  auto algo_s = s.substr(0, colon);
  auto hex = s.substr(colon + 1);
  Digest d;
  if (algo_s == "sha256") {
    d.algo = DigestAlgo::Sha256;
  } else if (algo_s == "sha512") {
    d.algo = DigestAlgo::Sha512;
  } else {
    throw Error("invalid digest \"" + std::string(s) + "\": unsupported algorithm \"" + std::string(algo_s) + "\"");
  }
  if (hex.size() != hex_len(d.algo) || !is_lower_hex(hex))
    throw Error("invalid digest \"" + std::string(s) + "\": expected " + std::to_string(hex_len(d.algo)) +
                " lower-case hex characters");
  d.hex = std::string(hex);
  return d;
}

bool Digest::valid(std::string_view s) noexcept {
  try {
    parse(s);
    return true;
  } catch (...) {
    return false;
  }
}

std::string_view Digest::algo_name() const noexcept { return algo == DigestAlgo::Sha256 ? "sha256" : "sha512"; }

std::string Digest::str() const { return std::string(algo_name()) + ":" + hex; }

struct Hasher::Ctx {
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

Hasher::Hasher(DigestAlgo algo) : algo_(algo), ctx_(std::make_unique<Ctx>()) {
  int ok = algo == DigestAlgo::Sha256 ? SHA256_Init(&ctx_->sha256) : SHA512_Init(&ctx_->sha512);
  if (ok != 1) throw Error("initialise digest: OpenSSL failure");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t len) {
  if (!len) return;
  int ok = algo_ == DigestAlgo::Sha256 ? SHA256_Update(&ctx_->sha256, data, len) : SHA512_Update(&ctx_->sha512, data, len);
  if (ok != 1) throw Error("update digest: OpenSSL failure");
}

Digest Hasher::digest() const {
  Ctx copy = *ctx_;  // the running hash goes on
  unsigned char out[SHA512_DIGEST_LENGTH];
  unsigned n = algo_ == DigestAlgo::Sha256 ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  bool ok = (algo_ == DigestAlgo::Sha256 ? SHA256_Final(out, &copy.sha256) : SHA512_Final(out, &copy.sha512)) == 1;
  if (!ok) throw Error("finish digest: OpenSSL failure");
  static const char* hexd = "0123456789abcdef";
  Digest d;
  d.algo = algo_;
  d.hex.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    d.hex.push_back(hexd[out[i] >> 4]);
    d.hex.push_back(hexd[out[i] & 15]);
  }
  return d;
}

Digest digest_of(std::string_view data, DigestAlgo algo) {
  Hasher h(algo);
  h.update(data);
  return h.digest();
}

}  // namespace hoist
