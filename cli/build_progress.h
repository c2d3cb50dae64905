// `hoist build --progress=tty`: the daemon's build stream (the classic builder's text in
// {"stream"} lines, a base image's pull in {"status","id","progressDetail"} lines, a failure in
// {"errorDetail"}) turned into a compact live view as BuildKit's:
//
//   [+] Building 2.3s (3/5)
//    => [internal] load build context                                  0.0s
//    => => transferring context: 2.05kB                                0.0s
//    => [1/5] FROM bb:1                                                0.0s
//    => CACHED [2/5] COPY . /ctx/                                      0.0s
//    => [3/5] RUN make                                                 1.2s
//    => => # the running step's last output lines (dimmed)
//
// The steps are read from the text: "Step N/M : <instruction>" starts step N (a FROM starts a
// stage, named by its AS or "stage-K" after the first), " ---> Using cache" marks it cached,
// " ---> <id>" ends it, any other line is its output ("Removing intermediate container" left out).
// "Sending build context to Docker daemon  <size>" (the client's own line) is the context's
// upload; "Successfully built/tagged" the export. Time is given by the caller (seconds since the
// build began), so a test drives it with a fake clock.
//
// BuildProgress is the model and its text (no terminal I/O); TtyProgress draws its frames in
// place on a terminal (cursor moves, at most ten redraws a second from a ticker thread, the
// cursor hidden while it draws and shown again on SIGINT/SIGTERM and at the end).
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hoist::cli {

class BuildProgress {
 public:
  // `width`: the terminal's columns (every line is cut to width - 1); `height`: its rows (the
  // live frame keeps the header and the newest lines that fit; 0: no limit).
  explicit BuildProgress(int width = 80, int height = 0) : width_(width), height_(height) {}

  // The context's upload began: "[internal] load build context" runs until the "Sending build
  // context" line.
  void context_started(double now);
  // A {"stream"} text as it comes (pieces of lines are joined).
  void stream(std::string_view text, double now);
  // A {"status"} line: `progress` is its progress bar text ("" without one).
  void status(const std::string& id, const std::string& status, const std::string& progress, double now);
  // The build failed with `message` ({"errorDetail"}), or ended well (done()).
  void error(const std::string& message, double now);
  void done(double now);

  // The live frame: the header and one line per step, the running step's last output lines
  // under it (dimmed with SGR 2 when `color`).
  std::vector<std::string> frame(double now, bool color = true) const;
  // The text once the build ended: every step's final state, each step's sub-lines (the
  // context's size, the image written and named), then on failure the failing step's whole
  // output between "------" rules (the error itself is the caller's to print).
  std::vector<std::string> final_frame(double now, bool color = true) const;

  int width() const { return width_; }
  void set_size(int width, int height) {
    width_ = width;
    height_ = height;
  }

 private:
  enum class State { Running, Done, Cached, Error };
  struct Step {
    std::string name;                 // "[2/5] RUN make", "[internal] load build context"
    State state = State::Running;
    double started = 0, ended = -1;
    std::vector<std::string> output;  // its output lines
    std::vector<std::string> notes;   // "=> =>" sub-lines (transfer size, image written, named)
    bool counted = true;              // one of the Dockerfile's steps (the header's count)
  };
  void line(std::string text, double now);
  void end_running(double now);
  Step* running();
  std::string step_line(const Step& s, double now, bool color) const;
  std::string fit(std::string left, const std::string& right) const;

  int width_, height_;
  std::vector<Step> steps_;
  std::string partial_;      // a line not ended yet
  int total_ = 0;            // M of "Step N/M"
  int stage_ = -1;           // the current stage's index
  std::string stage_name_;   // its name as shown ("" for a lone first stage)
  std::vector<std::string> warnings_;
  std::optional<std::string> error_;
  double ended_ = -1;
};

// Draws a BuildProgress on a terminal fd in place. Every method is safe from any thread.
class TtyProgress {
 public:
  explicit TtyProgress(int fd);
  ~TtyProgress();  // stop() if not done
  TtyProgress(const TtyProgress&) = delete;
  TtyProgress& operator=(const TtyProgress&) = delete;

  void context_started();
  void stream(std::string_view text);
  void status(const std::string& id, const std::string& status, const std::string& progress);
  // The build ended: the final frame drawn over the live one, the cursor shown again.
  void finish(const std::optional<std::string>& error);

 private:
  double now() const;
  void draw_locked(const std::vector<std::string>& lines, bool last);
  void tick();

  int fd_;
  BuildProgress model_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, finished_ = false;
  std::size_t drawn_ = 0;  // lines of the last frame
  double start_;
  std::thread ticker_;
};

}  // namespace hoist::cli
