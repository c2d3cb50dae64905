#include "cli/build_progress.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

namespace hoist::cli {

namespace {

constexpr std::size_t kTailLines = 6;  // a running step's output lines in the live view
const char* const kDim = "\x1b[2m";
const char* const kRed = "\x1b[31m";
const char* const kReset = "\x1b[0m";

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A line of a step's output made safe to draw: what a carriage return overwrote dropped, escape
// sequences and control characters removed, tabs as spaces.
std::string sanitize(std::string_view s) {
  while (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  if (auto cr = s.rfind('\r'); cr != std::string_view::npos) s = s.substr(cr + 1);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {
      // CSI: ESC [ params final (0x40-0x7e); anything else: ESC and the next byte.
      if (i + 1 < s.size() && s[i + 1] == '[') {
        i += 2;
        while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '\t') out += ' ';
    else if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
  }
  return out;
}

// `s` cut to `cols` characters (UTF-8 sequences counted as one).
std::string cut(const std::string& s, std::size_t cols) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (n == cols) return s.substr(0, i);
    ++n;
  }
  return s;
}

std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string seconds(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::max(d, 0.0));
  return buf;
}

// "Step N/M : text" → (N, M, text).
bool parse_step(const std::string& l, int& n, int& m, std::string& text) {
  if (!starts(l, "Step ")) return false;
  std::size_t i = 5, slash = l.find('/', i), sep = l.find(" : ", i);
  if (slash == std::string::npos || sep == std::string::npos || slash > sep) return false;
  auto num = [](const std::string& s, int& v) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
    v = std::stoi(s);
    return true;
  };
  if (!num(l.substr(i, slash - i), n) || !num(l.substr(slash + 1, sep - slash - 1), m)) return false;
  text = l.substr(sep + 3);
  return true;
}

}  // namespace

BuildProgress::Step* BuildProgress::running() {
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
    if (it->state == State::Running) return &*it;
  return nullptr;
}

void BuildProgress::end_running(double now) {
  for (Step& s : steps_)
    if (s.state == State::Running || (s.state == State::Cached && s.ended < 0)) {
      if (s.state == State::Running) s.state = State::Done;
      s.ended = now;
    }
}

void BuildProgress::context_started(double now) {
  Step s;
  s.name = "[internal] load build context";
  s.started = now;
  s.counted = false;
  steps_.push_back(std::move(s));
}

void BuildProgress::stream(std::string_view text, double now) {
  partial_.append(text);
  std::size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    std::string l = partial_.substr(0, nl);
    partial_.erase(0, nl + 1);
    line(std::move(l), now);
  }
}

void BuildProgress::line(std::string l, double now) {
  int n = 0, m = 0;
  std::string text;
  if (parse_step(l, n, m, text)) {
    end_running(now);
    total_ = std::max(total_, m);
    std::string first = upper(text.substr(0, text.find(' ')));
    if (first == "FROM") {
      ++stage_;
      // FROM [--platform=...] image [AS name]
      std::vector<std::string> words;
      for (std::size_t i = 0; i < text.size();) {
        std::size_t j = text.find_first_of(" \t", i);
        if (j == std::string::npos) j = text.size();
        if (j > i) words.push_back(text.substr(i, j - i));
        i = j + 1;
      }
      if (words.size() >= 3 && upper(words[words.size() - 2]) == "AS") stage_name_ = words.back();
      else stage_name_ = stage_ == 0 ? "" : "stage-" + std::to_string(stage_);
    }
    Step s;
    std::string prefix = stage_ >= 0 && !stage_name_.empty() ? stage_name_ + " " : "";
    s.name = "[" + prefix + std::to_string(n) + "/" + std::to_string(m) + "] " + text;
    s.started = now;
    steps_.push_back(std::move(s));
    return;
  }
  if (l == " ---> Using cache") {
    if (Step* r = running()) r->state = State::Cached;
    return;
  }
  if (starts(l, " ---> Running in ") || starts(l, "Removing intermediate container ")) return;
  if (starts(l, " ---> ")) {
    end_running(now);
    return;
  }
  static const std::string kSending = "Sending build context to Docker daemon";
  if (starts(l, kSending)) {
    Step* s = nullptr;
    for (Step& st : steps_)
      if (st.name == "[internal] load build context" && st.state == State::Running) s = &st;
    if (!s) {
      context_started(0);
      s = &steps_.back();
    }
    s->state = State::Done;
    s->ended = now;
    std::string size = l.substr(kSending.size());
    size.erase(0, size.find_first_not_of(' '));
    s->notes.push_back("transferring context: " + size);
    return;
  }
  if (starts(l, "Successfully built ")) {
    end_running(now);
    Step s;
    s.name = "exporting to image";
    s.state = State::Done;
    s.started = s.ended = now;
    s.counted = false;
    s.notes.push_back("writing image " + l.substr(19));
    steps_.push_back(std::move(s));
    return;
  }
  if (starts(l, "Successfully tagged ")) {
    if (!steps_.empty() && steps_.back().name == "exporting to image")
      steps_.back().notes.push_back("naming to " + l.substr(20));
    return;
  }
  std::string clean = sanitize(l);
  if (clean.empty() && !l.empty()) return;  // only escapes (dockerd's colour around a RUN's stderr)
  if (starts(l, "[Warning]") || starts(l, "[WARNING]")) {
    warnings_.push_back(clean);
    return;
  }
  if (Step* r = running()) r->output.push_back(clean);
  else if (!clean.empty()) warnings_.push_back(clean);
}

void BuildProgress::status(const std::string& id, const std::string& status, const std::string& progress,
                           double now) {
  (void)now;
  Step* r = running();
  if (!r) return;
  std::string head = id.empty() ? "" : id + ": ";
  std::string l = sanitize(head + status + (progress.empty() ? "" : " " + progress));
  // A layer's progress replaces its previous progress line.
  if (!progress.empty() && !r->output.empty() && starts(r->output.back(), sanitize(head + status + " ")))
    r->output.back() = l;
  else
    r->output.push_back(l);
}

void BuildProgress::error(const std::string& message, double now) {
  if (!partial_.empty()) stream("\n", now);
  for (Step& s : steps_)
    if (s.state == State::Running) {
      s.state = State::Error;
      s.ended = now;
    }
  error_ = message;
  ended_ = now;
}

void BuildProgress::done(double now) {
  if (!partial_.empty()) stream("\n", now);
  end_running(now);
  ended_ = now;
}

std::string BuildProgress::fit(std::string left, const std::string& right) const {
  std::size_t w = static_cast<std::size_t>(std::max(width_ - 1, 20));
  if (right.empty()) return cut(left, w);
  std::size_t room = w > right.size() + 1 ? w - right.size() - 1 : 0;
  left = cut(left, room);
  return left + std::string(room - columns(left) + 1, ' ') + right;
}

std::string BuildProgress::step_line(const Step& s, double now, bool color) const {
  std::string mark = s.state == State::Cached ? "CACHED " : s.state == State::Error ? "ERROR " : "";
  double end = s.ended >= 0 ? s.ended : now;
  std::string l = fit(" => " + mark + s.name, seconds(s.state == State::Cached ? 0 : end - s.started));
  if (color && s.state == State::Error) l = kRed + l + kReset;
  return l;
}

std::vector<std::string> BuildProgress::frame(double now, bool color) const {
  int done = 0, counted = 0;
  for (const Step& s : steps_) {
    if (!s.counted) continue;
    ++counted;
    done += s.state != State::Running;
  }
  double t = ended_ >= 0 ? ended_ : now;
  std::string header = "[+] Building " + seconds(t) + " (" + std::to_string(done) + "/" +
                       std::to_string(std::max(total_, counted)) + ")" +
                       (ended_ >= 0 && !error_ ? " FINISHED" : "");
  std::vector<std::string> lines{fit(header, "")};
  for (const Step& s : steps_) {
    lines.push_back(step_line(s, now, color));
    for (const std::string& n : s.notes) lines.push_back(fit(" => => " + n, ""));
    if (s.state == State::Running) {
      std::size_t from = s.output.size() > kTailLines ? s.output.size() - kTailLines : 0;
      for (std::size_t i = from; i < s.output.size(); ++i) {
        std::string l = fit(" => => # " + s.output[i], "");
        lines.push_back(color ? kDim + l + kReset : l);
      }
    }
  }
  if (height_ > 2 && lines.size() > static_cast<std::size_t>(height_ - 1))
    lines.erase(lines.begin() + 1, lines.end() - (height_ - 2));
  return lines;
}

std::vector<std::string> BuildProgress::final_frame(double now, bool color) const {
  BuildProgress all = *this;
  all.height_ = 0;
  if (all.ended_ < 0) all.ended_ = now;
  std::vector<std::string> lines = all.frame(now, color);
  for (const std::string& w : warnings_) lines.push_back(w);
  if (error_)
    for (const Step& s : steps_) {
      if (s.state != State::Error) continue;
      lines.push_back("------");
      lines.push_back(" > " + s.name + ":");
      for (const std::string& o : s.output) lines.push_back(o);
      lines.push_back("------");
    }
  return lines;
}

// --- TtyProgress ---------------------------------------------------------------------------

namespace {

std::atomic<int> g_tty_fd{-1};
struct sigaction g_old_int, g_old_term;

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

// SIGINT/SIGTERM while the view is drawn: the cursor shown again below it, then the signal's own
// action (the handler was installed with SA_RESETHAND).
void on_signal(int sig) {
  int fd = g_tty_fd.load();
  if (fd >= 0) {
    static const char show[] = "\x1b[?25h\n";
    ssize_t r = ::write(fd, show, sizeof show - 1);
    (void)r;
  }
  ::raise(sig);
}

double monotonic() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void term_size(int fd, int& w, int& h) {
  winsize ws{};
  w = 80;
  h = 0;
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col > 0) w = ws.ws_col;
    h = ws.ws_row;
  }
}

}  // namespace

TtyProgress::TtyProgress(int fd) : fd_(fd), start_(monotonic()) {
  int w, h;
  term_size(fd_, w, h);
  model_.set_size(w, h);
  g_tty_fd = fd_;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
  write_all(fd_, "\x1b[?25l");
  ticker_ = std::thread([this] { tick(); });
}

TtyProgress::~TtyProgress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (!finished_) write_all(fd_, "\x1b[?25h");
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  g_tty_fd = -1;
}

double TtyProgress::now() const { return monotonic() - start_; }

void TtyProgress::context_started() {
  std::lock_guard<std::mutex> lock(mu_);
  model_.context_started(now());
}

void TtyProgress::stream(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  model_.stream(text, now());
}

void TtyProgress::status(const std::string& id, const std::string& status, const std::string& progress) {
  std::lock_guard<std::mutex> lock(mu_);
  model_.status(id, status, progress, now());
}

void TtyProgress::finish(const std::optional<std::string>& error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  double t = now();
  if (error) model_.error(*error, t);
  else model_.done(t);
  draw_locked(model_.final_frame(t), true);
  write_all(fd_, "\x1b[?25h");
  finished_ = true;
}

void TtyProgress::draw_locked(const std::vector<std::string>& lines, bool last) {
  std::string buf;
  if (drawn_ > 0) buf += "\r\x1b[" + std::to_string(drawn_) + "A";
  for (const std::string& l : lines) buf += "\x1b[2K" + l + "\n";
  buf += "\x1b[J";
  write_all(fd_, buf);
  drawn_ = last ? 0 : lines.size();
}

void TtyProgress::tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    int w, h;
    term_size(fd_, w, h);
    model_.set_size(w, h);
    draw_locked(model_.frame(now()), false);
    cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; });
  }
}

}  // namespace hoist::cli
