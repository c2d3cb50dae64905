#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "common/error.h"
#include "common/file.h"

namespace hoist::image {

namespace {

std::string random_name() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd());
}

void fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_sys("open", dir);
  if (::fsync(fd.get()) != 0) throw_sys("fsync", dir);
}

}  // namespace

ContentStore::ContentStore(std::string root) : root_(std::move(root)) {
  mkdir_all(root_ + "/blobs/sha256", 0700);
  mkdir_all(root_ + "/blobs/sha512", 0700);
  remove_all(root_ + "/ingest");
  mkdir_all(root_ + "/ingest", 0700);
}

std::string ContentStore::path(const Digest& d) const {
  return root_ + "/blobs/" + std::string(d.algo_name()) + "/" + d.hex;
}

bool ContentStore::has(const Digest& d) const { return ::access(path(d).c_str(), F_OK) == 0; }

std::optional<std::int64_t> ContentStore::size(const Digest& d) const {
  struct stat st;
  if (::stat(path(d).c_str(), &st) != 0) return std::nullopt;
  return st.st_size;
}

UniqueFd ContentStore::open(const Digest& d) const {
  auto p = path(d);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) throw Error("blob " + d.str() + " not found in the content store");
    throw_sys("open", p);
  }
  return fd;
}

std::string ContentStore::read(const Digest& d, std::size_t max_size) const {
  auto fd = open(d);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_sys("stat", path(d));
  if (static_cast<std::size_t>(st.st_size) > max_size)
    throw Error("blob " + d.str() + " is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                std::to_string(max_size));
  return read_fd(fd.get());
}

Digest ContentStore::put(std::string_view data, const std::optional<Digest>& expected, bool durable) {
  auto w = writer(expected ? expected->algo : DigestAlgo::Sha256);
  w.write(data.data(), data.size());
  return w.commit(expected, static_cast<std::int64_t>(data.size()), durable);
}

bool ContentStore::remove(const Digest& d) {
  auto p = path(d);
  if (::unlink(p.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_sys("remove", p);
}

std::vector<Digest> ContentStore::list() const {
  std::vector<Digest> out;
  for (const char* algo : {"sha256", "sha512"}) {
    auto dir = root_ + "/blobs/" + algo;
    DIR* dp = ::opendir(dir.c_str());
    if (!dp) continue;
    while (auto* e = ::readdir(dp)) {
      std::string s = std::string(algo) + ":" + e->d_name;
      if (Digest::valid(s)) out.push_back(Digest::parse(s));
    }
    ::closedir(dp);
  }
  return out;
}

ContentStore::Writer ContentStore::writer(DigestAlgo algo) {
  auto tmp = root_ + "/ingest/" + random_name();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_sys("create", tmp);
  return Writer(*this, tmp, std::move(fd), algo);
}

void ContentStore::publish(const std::string& tmp, const Digest& d, bool durable) {
  auto dst = path(d);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) throw_sys("rename " + tmp + " to", dst);
  if (durable) fsync_dir(root_ + "/blobs/" + std::string(d.algo_name()));
}

ContentStore::Writer::Writer(ContentStore& store, std::string tmp, UniqueFd fd, DigestAlgo algo)
    : store_(&store), tmp_(std::move(tmp)), fd_(std::move(fd)), hasher_(algo) {
  buf_.reserve(1 << 20);
}

ContentStore::Writer::Writer(Writer&& o) noexcept
    : store_(o.store_), tmp_(std::move(o.tmp_)), fd_(std::move(o.fd_)), hasher_(std::move(o.hasher_)),
      written_(o.written_), buf_(std::move(o.buf_)) {
  o.tmp_.clear();
}

ContentStore::Writer::~Writer() {
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void ContentStore::Writer::flush() {
  if (buf_.empty()) return;
  write_all(fd_.get(), buf_, tmp_);
  buf_.clear();
}

void ContentStore::Writer::write(const char* data, std::size_t len) {
  hasher_.update(data, len);
  written_ += static_cast<std::int64_t>(len);
  if (buf_.size() + len > buf_.capacity()) flush();
  if (len >= buf_.capacity()) {
    write_all(fd_.get(), std::string_view(data, len), tmp_);
  } else {
    buf_.append(data, len);
  }
}

Digest ContentStore::Writer::commit(const std::optional<Digest>& expected, std::optional<std::int64_t> expected_size,
                                    bool durable) {
  flush();
  auto got = hasher_.digest();
  auto name = expected ? expected->str() : got.str();
  if (expected_size && *expected_size != written_) {
    ::unlink(tmp_.c_str());
    tmp_.clear();
    throw Error("blob " + name + ": size mismatch: expected " + std::to_string(*expected_size) + " bytes, got " +
                std::to_string(written_));
  }
  if (expected && got != *expected) {
    ::unlink(tmp_.c_str());
    tmp_.clear();
    throw Error("blob " + name + ": digest mismatch: the " + std::to_string(written_) + " bytes received hash to " +
                got.str());
  }
  if (durable && ::fsync(fd_.get()) != 0) throw_sys("fsync", tmp_);
  fd_.reset();
  if (store_->has(got)) {
    ::unlink(tmp_.c_str());
  } else {
    store_->publish(tmp_, got, durable);
  }
  tmp_.clear();
  return got;
}

}  // namespace hoist::image
