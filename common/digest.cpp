#include "common/digest.h"

#include <openssl/evp.h>

#include "common/error.h"

namespace hoist {

namespace {
std::size_t hex_len(DigestAlgo a) { return a == DigestAlgo::Sha256 ? 64 : 128; }
const EVP_MD* md_of(DigestAlgo a) { return a == DigestAlgo::Sha256 ? EVP_sha256() : EVP_sha512(); }
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
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(DigestAlgo algo) : algo_(algo), ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, md_of(algo), nullptr) != 1) throw Error("initialise digest: OpenSSL failure");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t len) {
  if (len && EVP_DigestUpdate(ctx_->md, data, len) != 1) throw Error("update digest: OpenSSL failure");
}

Digest Hasher::digest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  bool ok = copy && EVP_MD_CTX_copy_ex(copy, ctx_->md) == 1 && EVP_DigestFinal_ex(copy, out, &n) == 1;
  EVP_MD_CTX_free(copy);
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
