#include "cli/ssh_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <vector>

#include "common/error.h"
#include "common/ssh_wire.h"

namespace hoist::cli {

namespace {

enum class Kind { Ed25519, Rsa, Ecdsa };

struct Curve {
  const char* ssh;  // the name in SSH ("nistp256")
  int nid;
  const char* digest;
};
const Curve kCurves[] = {{"nistp256", NID_X9_62_prime256v1, "SHA256"},
                         {"nistp384", NID_secp384r1, "SHA384"},
                         {"nistp521", NID_secp521r1, "SHA512"}};

[[noreturn]] void refuse(const std::string& why) { throw InvalidArgument("ssh: " + why); }
[[noreturn]] void passphrase_protected() { refuse("this private key is passphrase protected"); }

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bn(std::string_view bytes) {
  Bn b(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
  if (!b) throw Error("ssh: out of memory");
  return b;
}
std::string bn_bytes(const BIGNUM* b) {
  std::string out(static_cast<std::size_t>(BN_num_bytes(b)), '\0');
  BN_bn2bin(b, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// A key made from OSSL_PARAMs (the key's fields read from an OpenSSH file).
Pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* k = nullptr;
  bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) > 0 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) > 0;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) refuse(std::string("invalid ") + type + " key");
  return Pkey(k);
}

struct ParamBuild {
  OSSL_PARAM_BLD* b = OSSL_PARAM_BLD_new();
  std::vector<Bn> keep;  // the numbers must outlive OSSL_PARAM_BLD_to_param
  ~ParamBuild() { OSSL_PARAM_BLD_free(b); }
  void num(const char* key, Bn v) {
    OSSL_PARAM_BLD_push_BN(b, key, v.get());
    keep.push_back(std::move(v));
  }
};

Pkey openssh_rsa(ssh_wire::Reader& r) {
  Bn n = bn(r.str()), e = bn(r.str()), d = bn(r.str()), iqmp = bn(r.str()), p = bn(r.str()), q = bn(r.str());
  if (BN_is_zero(p.get()) || BN_is_zero(q.get()) || BN_is_one(p.get()) || BN_is_one(q.get()))
    refuse("invalid RSA key");
  // The CRT exponents OpenSSH leaves out: d mod (p-1), d mod (q-1).
  BN_CTX* ctx = BN_CTX_new();
  Bn p1(BN_dup(p.get())), q1(BN_dup(q.get())), dp(BN_new()), dq(BN_new());
  bool ok = ctx && p1 && q1 && dp && dq && BN_sub_word(p1.get(), 1) && BN_sub_word(q1.get(), 1) &&
            BN_mod(dp.get(), d.get(), p1.get(), ctx) && BN_mod(dq.get(), d.get(), q1.get(), ctx);
  BN_CTX_free(ctx);
  if (!ok) refuse("invalid RSA key");
  ParamBuild pb;
  pb.num(OSSL_PKEY_PARAM_RSA_N, std::move(n));
  pb.num(OSSL_PKEY_PARAM_RSA_E, std::move(e));
  pb.num(OSSL_PKEY_PARAM_RSA_D, std::move(d));
  pb.num(OSSL_PKEY_PARAM_RSA_FACTOR1, std::move(p));
  pb.num(OSSL_PKEY_PARAM_RSA_FACTOR2, std::move(q));
  pb.num(OSSL_PKEY_PARAM_RSA_EXPONENT1, std::move(dp));
  pb.num(OSSL_PKEY_PARAM_RSA_EXPONENT2, std::move(dq));
  pb.num(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, std::move(iqmp));
  return from_params("RSA", pb.b);
}

Pkey openssh_ecdsa(ssh_wire::Reader& r, std::string_view type) {
  std::string_view curve = r.str(), point = r.str(), d = r.str();
  const Curve* c = nullptr;
  for (const Curve& k : kCurves)
    if (curve == k.ssh && type == std::string("ecdsa-sha2-") + k.ssh) c = &k;
  if (!c) refuse("unsupported curve");
  ParamBuild pb;
  OSSL_PARAM_BLD_push_utf8_string(pb.b, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(c->nid), 0);
  OSSL_PARAM_BLD_push_octet_string(pb.b, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  pb.num(OSSL_PKEY_PARAM_PRIV_KEY, bn(d));
  return from_params("EC", pb.b);
}

Pkey openssh_ed25519(ssh_wire::Reader& r) {
  std::string_view pub = r.str(), priv = r.str();
  if (pub.size() != 32 || priv.size() != 64 || priv.substr(32) != pub) refuse("private key unexpected length");
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(priv.data()), 32);
  if (!k) refuse("invalid ed25519 key");
  return Pkey(k);
}

std::string base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  if (clean.size() % 4 != 0) refuse("malformed OpenSSH key");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) refuse("malformed OpenSSH key");
  std::size_t pad = 0;
  for (std::size_t i = clean.size(); i > 0 && clean[i - 1] == '=' && pad < 2; --i) ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// The "openssh-key-v1" format (OpenSSH's PROTOCOL.key).
Pkey openssh_key(std::string_view body) {
  std::string data = base64_decode(body);
  WipeOnExit wipe(data);
  static constexpr std::string_view kMagic("openssh-key-v1\0", 15);
  if (data.compare(0, kMagic.size(), kMagic) != 0) refuse("invalid openssh private key format");
  ssh_wire::Reader r(std::string_view(data).substr(kMagic.size()), "ssh: malformed OpenSSH key");
  std::string_view cipher = r.str(), kdf = r.str();
  r.str();  // the kdf's options
  std::uint32_t keys = r.u32();
  if (cipher != "none" || kdf != "none") passphrase_protected();
  if (keys != 1) refuse("multi-key files are not supported");
  r.str();  // the public key, again in the private section
  ssh_wire::Reader p(r.str(), "ssh: malformed OpenSSH key");
  if (p.u32() != p.u32()) refuse("checkint mismatch");
  std::string_view type = p.str();
  Pkey k;
  if (type == "ssh-rsa")
    k = openssh_rsa(p);
  else if (type == "ssh-ed25519")
    k = openssh_ed25519(p);
  else if (type.substr(0, 11) == "ecdsa-sha2-")
    k = openssh_ecdsa(p, type);
  else
    refuse("unhandled key type");
  p.str();  // the comment (BuildKit's agent lists its keys without one)
  std::string_view pad = p.rest();
  for (std::size_t i = 0; i < pad.size(); ++i)
    if (static_cast<std::uint8_t>(pad[i]) != i + 1) refuse("padding not as expected");
  return k;
}

// A PEM block of OpenSSL's kinds (PKCS#1, PKCS#8, SEC 1).
Pkey pem_key(std::string_view block) {
  BIO* bio = BIO_new_mem_buf(block.data(), static_cast<int>(block.size()));
  if (!bio) throw Error("ssh: out of memory");
  auto no_password = [](char*, int, int, void*) { return -1; };
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, no_password, nullptr);
  BIO_free(bio);
  if (!k) refuse("cannot parse the PEM private key");
  return Pkey(k);
}

Kind kind_of(const EVP_PKEY* k, const Curve** curve) {
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_ED25519:
      return Kind::Ed25519;
    case EVP_PKEY_RSA:
      return Kind::Rsa;
    case EVP_PKEY_EC: {
      char group[64] = "";
      if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) > 0) {
        int nid = OBJ_txt2nid(group);
        for (const Curve& c : kCurves)
          if (c.nid == nid) {
            *curve = &c;
            return Kind::Ecdsa;
          }
      }
      refuse("unsupported curve");
    }
    default:
      refuse("unsupported key type");
  }
}

std::string bn_param(const EVP_PKEY* k, const char* name) {
  BIGNUM* b = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &b) <= 0) refuse("invalid RSA key");
  Bn owned(b);
  return bn_bytes(b);
}

}  // namespace

struct SshKey::Impl {
  Pkey key;
  Kind kind;
  const Curve* curve = nullptr;
};

SshKey::SshKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  const EVP_PKEY* k = impl_->key.get();
  switch (impl_->kind) {
    case Kind::Ed25519: {
      std::string pub(32, '\0');
      std::size_t len = pub.size();
      if (EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(pub.data()), &len) <= 0 || len != 32)
        refuse("invalid ed25519 key");
      ssh_wire::put_str(blob_, "ssh-ed25519");
      ssh_wire::put_str(blob_, pub);
      break;
    }
    case Kind::Rsa:
      ssh_wire::put_str(blob_, "ssh-rsa");
      ssh_wire::put_mpint(blob_, bn_param(k, OSSL_PKEY_PARAM_RSA_E));
      ssh_wire::put_mpint(blob_, bn_param(k, OSSL_PKEY_PARAM_RSA_N));
      break;
    case Kind::Ecdsa: {
      std::string point(200, '\0');
      std::size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                          reinterpret_cast<unsigned char*>(point.data()), point.size(), &len) <= 0)
        refuse("invalid ecdsa key");
      point.resize(len);
      ssh_wire::put_str(blob_, std::string("ecdsa-sha2-") + impl_->curve->ssh);
      ssh_wire::put_str(blob_, impl_->curve->ssh);
      ssh_wire::put_str(blob_, point);
      break;
    }
  }
}

SshKey::~SshKey() = default;
SshKey::SshKey(SshKey&&) noexcept = default;
SshKey& SshKey::operator=(SshKey&&) noexcept = default;

std::string SshKey::sign(std::string_view data, std::uint32_t flags) const {
  std::string alg;
  const char* digest = nullptr;
  if (flags != 0 && (impl_->kind != Kind::Rsa || (flags != kSshAgentRsaSha256 && flags != kSshAgentRsaSha512)))
    throw InvalidArgument("agent: unsupported signature flags: " + std::to_string(flags));
  switch (impl_->kind) {
    case Kind::Ed25519:
      alg = "ssh-ed25519";
      break;
    case Kind::Rsa:
      alg = (flags & kSshAgentRsaSha512) ? "rsa-sha2-512" : (flags & kSshAgentRsaSha256) ? "rsa-sha2-256" : "ssh-rsa";
      digest = (flags & kSshAgentRsaSha512) ? "SHA512" : (flags & kSshAgentRsaSha256) ? "SHA256" : "SHA1";
      break;
    case Kind::Ecdsa:
      alg = std::string("ecdsa-sha2-") + impl_->curve->ssh;
      digest = impl_->curve->digest;
      break;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string sig;
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  bool ok = ctx && EVP_DigestSignInit_ex(ctx, nullptr, digest, nullptr, nullptr, impl_->key.get(), nullptr) > 0 &&
            EVP_DigestSign(ctx, nullptr, &len, in, data.size()) > 0;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) > 0;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) throw Error("ssh: signing with the " + alg + " key failed");
  if (impl_->kind == Kind::Ecdsa) {  // DER (r, s) to SSH's two mpints
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (!es) throw Error("ssh: signing with the " + alg + " key failed");
    sig.clear();
    ssh_wire::put_mpint(sig, bn_bytes(ECDSA_SIG_get0_r(es)));
    ssh_wire::put_mpint(sig, bn_bytes(ECDSA_SIG_get0_s(es)));
    ECDSA_SIG_free(es);
  }
  std::string out;
  ssh_wire::put_str(out, alg);
  ssh_wire::put_str(out, sig);
  return out;
}

WipeOnExit::~WipeOnExit() { OPENSSL_cleanse(s_.data(), s_.size()); }

SshKey parse_private_key(std::string_view text) {
  // The first PEM block, as Go's pem.Decode finds it.
  std::size_t begin = text.find("-----BEGIN ");
  if (begin == std::string_view::npos) refuse("no key found");
  std::size_t type_end = text.find("-----", begin + 11);
  std::size_t line_end = text.find('\n', begin);
  if (type_end == std::string_view::npos || (line_end != std::string_view::npos && type_end > line_end))
    refuse("no key found");
  std::string type(text.substr(begin + 11, type_end - begin - 11));
  std::string end_line = "-----END " + type + "-----";
  std::size_t end = text.find(end_line, type_end);
  if (end == std::string_view::npos || line_end == std::string_view::npos || line_end > end) refuse("no key found");
  std::string_view body = text.substr(line_end + 1, end - line_end - 1);
  // RFC 1421 headers (an encrypted PEM key's "Proc-Type: 4,ENCRYPTED"): lines before a blank one.
  std::size_t blank = body.find("\n\n");
  std::string_view headers = blank == std::string_view::npos ? std::string_view() : body.substr(0, blank);
  if (headers.find(':') != std::string_view::npos) {
    std::size_t pt = headers.find("Proc-Type:");
    if (pt != std::string_view::npos && headers.substr(pt, headers.find('\n', pt) - pt).find("ENCRYPTED") != std::string_view::npos)
      passphrase_protected();
    body = body.substr(blank + 2);
  }
  auto impl = std::make_unique<SshKey::Impl>();
  if (type == "OPENSSH PRIVATE KEY")
    impl->key = openssh_key(body);
  else if (type == "RSA PRIVATE KEY" || type == "PRIVATE KEY" || type == "EC PRIVATE KEY")
    impl->key = pem_key(text.substr(begin, end + end_line.size() - begin));
  else if (type == "DSA PRIVATE KEY")
    refuse("unsupported key type \"DSA PRIVATE KEY\" (hoist holds no DSA keys)");
  else
    refuse("unsupported key type \"" + type + "\"");
  impl->kind = kind_of(impl->key.get(), &impl->curve);
  return SshKey(std::move(impl));
}

}  // namespace hoist::cli
