// Layer decompression: gzip (zlib) and zstd (libzstd) by hand rather than libarchive's filters,
// for 1 MiB chunks without copies, strict truncation errors, and no filter that could spawn an
// external program (libarchive's lrzip/lzop/grzip bidders do) on untrusted input.
#include <zstd.h>

#include <cstring>

#include "common/digest.h"
#include "common/error.h"
#include "image/layer_internal.h"

namespace hoist::image {
namespace layer_detail {

namespace {
constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

bool starts_with(const char* p, std::size_t len, const unsigned char* magic, std::size_t n) {
  return len >= n && std::memcmp(p, magic, n) == 0;
}

[[noreturn]] void fail(const std::string& what) { throw Error("decompress layer: " + what); }
}  // namespace

Decompressor::Decompressor(const ReadFn& read) : read_(read), in_(std::make_unique_for_overwrite<char[]>(kBufSize)) {
  have(sizeof kZstdMagic);  // the longest magic, however short the reads are
  const char* p = in_.get();
  if (starts_with(p, in_len_, kGzipMagic, sizeof kGzipMagic)) {
    kind_ = Kind::Gzip;
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) fail("zlib initialisation failed");  // 16: gzip only
  } else if (starts_with(p, in_len_, kZstdMagic, sizeof kZstdMagic)) {
    kind_ = Kind::Zstd;
    zstd_ = ZSTD_createDCtx();
    if (!zstd_) fail("zstd initialisation failed");
  }
  if (kind_ != Kind::Plain) out_ = std::make_unique_for_overwrite<char[]>(kBufSize);
}

Decompressor::~Decompressor() {
  if (kind_ == Kind::Gzip) inflateEnd(&z_);
  ZSTD_freeDCtx(zstd_);
}

bool Decompressor::have(std::size_t n) {
  if (in_len_ - in_pos_ >= n) return true;
  // Move the unread rest to the front and read behind it.
  std::memmove(in_.get(), in_.get() + in_pos_, in_len_ - in_pos_);
  in_len_ -= in_pos_;
  in_pos_ = 0;
  while (in_len_ < n && !eof_) {
    std::size_t got = read_(in_.get() + in_len_, kBufSize - in_len_);
    if (got == 0) eof_ = true;
    in_len_ += got;
  }
  return in_len_ >= n;
}

std::string_view Decompressor::next() {
  switch (kind_) {
    case Kind::Gzip:
      return next_gzip();
    case Kind::Zstd:
      return next_zstd();
    case Kind::Plain:
      break;
  }
  // Plain: hand out the input buffer itself.
  if (!have(1)) return {};
  std::string_view chunk(in_.get() + in_pos_, in_len_ - in_pos_);
  in_pos_ = in_len_;
  return chunk;
}

std::string_view Decompressor::next_gzip() {
  while (!done_) {
    have(1);  // at the end of the input, inflate may still flush what it holds
    z_.next_in = reinterpret_cast<Bytef*>(in_.get() + in_pos_);
    z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    z_.next_out = reinterpret_cast<Bytef*>(out_.get());
    z_.avail_out = static_cast<uInt>(kBufSize);
    int r = inflate(&z_, Z_NO_FLUSH);
    in_pos_ = in_len_ - z_.avail_in;
    std::size_t produced = kBufSize - z_.avail_out;
    if (r == Z_STREAM_END) {
      // A gzip file may be several members back to back; anything else after the end is
      // trailing garbage, ignored (and drained) as Docker does.
      if (have(sizeof kGzipMagic) &&
          starts_with(in_.get() + in_pos_, in_len_ - in_pos_, kGzipMagic, sizeof kGzipMagic)) {
        inflateReset(&z_);
      } else {
        done_ = true;
      }
    } else if (r == Z_BUF_ERROR) {
      // No progress with a fresh output buffer: the input ended inside the stream.
      fail("truncated gzip stream");
    } else if (r != Z_OK) {
      fail(std::string("gzip: ") + (z_.msg ? z_.msg : "error " + std::to_string(r)));
    }
    if (produced > 0) return {out_.get(), produced};
  }
  return {};
}

std::string_view Decompressor::next_zstd() {
  while (!done_) {
    bool more = have(1);  // at the end of the input, zstd may still flush what it holds
    ZSTD_inBuffer in{in_.get(), in_len_, in_pos_};
    ZSTD_outBuffer out{out_.get(), kBufSize, 0};
    std::size_t r = ZSTD_decompressStream(zstd_, &out, &in);
    if (ZSTD_isError(r)) fail(std::string("zstd: ") + ZSTD_getErrorName(r));
    // r == 0 exactly when a frame is complete and flushed (a call without progress only
    // returns a size hint for the next frame).
    if (in.pos != in_pos_ || out.pos > 0) frame_complete_ = r == 0;
    in_pos_ = in.pos;
    if (out.pos > 0) return {out_.get(), out.pos};
    if (!more) {
      if (!frame_complete_) fail("truncated zstd stream");
      done_ = true;
    }
  }
  return {};
}

void Decompressor::drain_input() {
  while (!eof_) {
    in_pos_ = in_len_ = 0;
    have(1);
  }
}

}  // namespace layer_detail

Digest decompress(const ReadFn& read, const WriteFn& write) {
  layer_detail::Decompressor dec(read);
  Hasher hasher;
  for (std::string_view chunk = dec.next(); !chunk.empty(); chunk = dec.next()) {
    hasher.update(chunk);
    write(chunk.data(), chunk.size());
  }
  dec.drain_input();
  return hasher.digest();
}

}  // namespace hoist::image
