// See build_git_ssh.h.
#include "engine/build_git_ssh.h"

#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/unix_socket.h"
#include "engine/git_lib.h"

namespace hoist::engine {

namespace {

int fail(const std::string& message) {
  git_lib().git_error_set_str(GIT_ERROR_SSH, message.c_str());
  return GIT_EAUTH;
}

int accept_ssh_host_key(git_cert* cert, int, const char*, void*) {
  return cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2 ? 0 : GIT_PASSTHROUGH;
}

}  // namespace

void GitSshAuth::install(git_remote_callbacks& cb) {
  if (socket_.empty()) return;
  next_ = 0;  // a new connection: every identity may be tried again
  cb.credentials = credentials;
  cb.certificate_check = accept_ssh_host_key;
  cb.payload = this;
}

int GitSshAuth::credentials(git_credential** out, const char*, const char* user, unsigned allowed, void* payload) {
  auto* self = static_cast<GitSshAuth*>(payload);
  const char* name = user && *user ? user : "root";
  if (allowed & GIT_CREDENTIAL_USERNAME) return git_lib().git_credential_username_new(out, name);
  if (!(allowed & GIT_CREDENTIAL_SSH_CUSTOM)) return fail("the remote asks for credentials hoist build cannot give");
  try {
    if (!self->agent_) {
      self->agent_ = std::make_unique<AgentClient>(unix_connect(self->socket_));
      self->ids_ = self->agent_->identities();
    }
  } catch (const std::exception& e) {
    return fail(std::string("the forwarded SSH agent: ") + e.what());
  }
  if (self->next_ >= self->ids_.size()) {
    if (self->ids_.empty()) return fail("the forwarded SSH agent holds no identity");
    std::string m = "Permission denied (publickey): no identity of the forwarded SSH agent was accepted";
    for (const AgentIdentity& id : self->ids_)
      if (key_type(id.blob) == "ssh-rsa")
        return fail(m + " (an RSA key signs with SHA-1, ssh-rsa, through libssh2 1.10, which OpenSSH 8.8 and later "
                        "refuse by default: use an ed25519 or ECDSA key)");
    return fail(m);
  }
  self->current_ = self->next_++;
  const std::string& blob = self->ids_[self->current_].blob;
  return git_lib().git_credential_ssh_custom_new(out, name, blob.data(), blob.size(), sign, self);
}

int GitSshAuth::sign(LIBSSH2_SESSION*, unsigned char** sig, size_t* sig_len, const unsigned char* data,
                     size_t data_len, void** abstract) {
  auto* self = static_cast<GitSshAuth*>(*abstract);
  try {
    std::string_view d(reinterpret_cast<const char*>(data), data_len);
    std::string s = signature_bytes(self->agent_->sign(self->ids_[self->current_].blob, d, userauth_sign_flags(d)));
    // libssh2 frees it with its allocator: malloc's.
    auto* p = static_cast<unsigned char*>(std::malloc(s.empty() ? 1 : s.size()));
    if (!p) return -1;
    std::memcpy(p, s.data(), s.size());
    *sig = p;
    *sig_len = s.size();
    return 0;
  } catch (const std::exception& e) {
    git_lib().git_error_set_str(GIT_ERROR_SSH, (std::string("the forwarded SSH agent: ") + e.what()).c_str());
    return -1;
  }
}

}  // namespace hoist::engine
