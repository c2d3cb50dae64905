// Content-addressed blob store: <root>/blobs/<algo>/<hex>.
//
// Blobs stream into <root>/ingest/ while their digest is computed; only a blob whose digest (and
// size, when known) matches becomes visible, by an atomic rename after fsync. A kill -9 leaves at
// most a temp file in ingest/, which the next open removes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/fd.h"

namespace hoist::image {

class ContentStore {
 public:
  // Creates the directories; removes leftovers in ingest/ (call only with the store's lock held).
  explicit ContentStore(std::string root);

  bool has(const Digest& d) const;
  std::optional<std::int64_t> size(const Digest& d) const;
  std::string path(const Digest& d) const;
  // Reads a whole blob, refusing it above `max_size` bytes.
  std::string read(const Digest& d, std::size_t max_size = 64 << 20) const;
  UniqueFd open(const Digest& d) const;
  // Stores `data`; throws if `expected` is given and does not match. `durable`: see Writer::commit.
  Digest put(std::string_view data, const std::optional<Digest>& expected = std::nullopt, bool durable = true);
  bool remove(const Digest& d);
  std::vector<Digest> list() const;

  // Streams one blob in. Dropping a writer without commit() removes its temp file.
  class Writer {
   public:
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) = delete;
    ~Writer();
    void write(const char* data, std::size_t len);
    std::int64_t written() const { return written_; }
    Digest digest() const { return hasher_.digest(); }
    // Verifies the digest (and size when given) and publishes the blob. On mismatch the temp
    // file is removed and Error says what was expected and what arrived. `durable`: fsync the
    // blob and its directory first; false leaves that to a later syncfs of the store (whose
    // caller then records that the blob may not have reached the disk).
    Digest commit(const std::optional<Digest>& expected, std::optional<std::int64_t> expected_size = std::nullopt,
                  bool durable = true);

   private:
    friend class ContentStore;
    Writer(ContentStore& store, std::string tmp, UniqueFd fd, DigestAlgo algo);
    ContentStore* store_;
    std::string tmp_;
    UniqueFd fd_;
    Hasher hasher_;
    std::int64_t written_ = 0;
    std::string buf_;  // coalesces small writes
    void flush();
  };
  Writer writer(DigestAlgo algo = DigestAlgo::Sha256);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  void publish(const std::string& tmp, const Digest& d, bool durable);
};

}  // namespace hoist::image
