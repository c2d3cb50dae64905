// httpserve: a small static file server for bench/network.sh, so that the server is not what limits
// the figures. GET and HEAD of regular files under one directory, HTTP/1.0 and 1.1, with
// Content-Length; a connection stays open only when the client asks for it (HTTP/1.1 without
// "Connection: close", or HTTP/1.0 with "Connection: keep-alive"). Bodies go out with sendfile.
// WORKERS processes (default: one per CPU) each run an epoll loop over a listening socket of
// their own on 0.0.0.0:PORT (SO_REUSEPORT: the kernel spreads the connections over them); the
// first process only waits, and stops the workers on SIGTERM or SIGINT (it may be a container's
// PID 1) or when one of them dies.
//   httpserve [-p PORT] [-d DIR] [-w WORKERS]        (defaults: 80, ., CPUs)
// network.sh builds it with gcc -O2 -static, so that it runs in the busybox image.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REQ_MAX = 8192, HEAD_MAX = 512, MAX_WORKERS = 64 };

struct conn {
  int fd, file;       // the socket; the file being sent, or -1
  int keep;           // keep the connection open after this response
  int out;            // waiting for EPOLLOUT (else EPOLLIN)
  off_t off, end;     // the part of the file still to send
  size_t have;        // request bytes in req
  size_t hlen, hoff;  // the response head (or a whole error response) in head, and how much is sent
  char req[REQ_MAX];
  char head[HEAD_MAX];
};

static int root_fd, epfd;
static pid_t first, workers[MAX_WORKERS];
static int nworkers;

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void drop(struct conn* c) {
  if (c->file >= 0) close(c->file);
  close(c->fd);  // also takes it out of the epoll set
  free(c);
}

static void error_response(struct conn* c, int code) {
  const char* reason = code == 400   ? "Bad Request"
                       : code == 404 ? "Not Found"
                       : code == 405 ? "Method Not Allowed"
                                     : "Request Header Fields Too Large";
  c->hlen = (size_t)snprintf(c->head, HEAD_MAX,
                             "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n\r\n%s\n",
                             code, reason, strlen(reason) + 1, reason);
  c->keep = 0;
}

// Whether a "Connection:" header of the header lines h (NUL-terminated) has the token tok.
static int connection_has(const char* h, const char* tok) {
  for (; *h; h++) {
    const char* e = strchrnul(h, '\n');
    if (strncasecmp(h, "Connection:", 11) == 0) {
      char v[128];
      size_t n = (size_t)(e - h - 11) < sizeof v ? (size_t)(e - h - 11) : sizeof v - 1;
      memcpy(v, h + 11, n);
      v[n] = 0;
      if (strcasestr(v, tok)) return 1;
    }
    if (!*(h = e)) break;
  }
  return 0;
}

// Whether path has a ".." component.
static int climbs(const char* path) {
  for (const char* s = strstr(path, "/.."); s; s = strstr(s + 1, "/.."))
    if (s[3] == 0 || s[3] == '/') return 1;
  return 0;
}

// Parses the request head at c->req (len bytes, ending in an empty line) and sets up the response;
// returns 0, or the status of an error response to send instead.
static int handle(struct conn* c, size_t len) {
  char* r = c->req;
  r[len - 1] = 0;  // the head's last '\n'
  char* eol = strchr(r, '\n');
  char* sp1 = strchr(r, ' ');
  char* sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!eol || !sp2 || sp2 > eol) return 400;
  *sp1 = *sp2 = *eol = 0;
  const char *method = r, *version = sp2 + 1;
  char* path = sp1 + 1;
  int head_only = strcmp(method, "HEAD") == 0;
  if (!head_only && strcmp(method, "GET") != 0) return 405;
  int v11 = strncmp(version, "HTTP/1.1", 8) == 0;
  if (!v11 && strncmp(version, "HTTP/1.0", 8) != 0) return 400;
  c->keep = v11 ? !connection_has(eol + 1, "close") : connection_has(eol + 1, "keep-alive");
  path[strcspn(path, "?#")] = 0;
  if (path[0] != '/' || climbs(path)) return 404;
  char name[1024];
  int n = snprintf(name, sizeof name, ".%s%s", path, path[strlen(path) - 1] == '/' ? "index.html" : "");
  if (n < 0 || (size_t)n >= sizeof name) return 404;
  int f = openat(root_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (f >= 0) close(f);
    return 404;
  }
  const char* dot = strrchr(name, '.');
  int html = dot && (strcmp(dot, ".html") == 0 || strcmp(dot, ".htm") == 0);
  c->hlen = (size_t)snprintf(c->head, HEAD_MAX,
                             "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\nConnection: %s\r\n\r\n",
                             html ? "text/html" : "application/octet-stream", (long long)st.st_size,
                             c->keep ? "keep-alive" : "close");
  if (head_only || st.st_size == 0) {
    close(f);
    return 0;
  }
  c->file = f, c->off = 0, c->end = st.st_size;
  return 0;
}

// Sends what is due; returns 1 when the response is out, 0 to wait for EPOLLOUT, -1 on error.
static int send_out(struct conn* c) {
  while (c->hoff < c->hlen) {  // the head, corked (MSG_MORE) when a body follows
    ssize_t w = send(c->fd, c->head + c->hoff, c->hlen - c->hoff, MSG_NOSIGNAL | (c->file >= 0 ? MSG_MORE : 0));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    c->hoff += (size_t)w;
  }
  while (c->file >= 0 && c->off < c->end) {
    size_t chunk = c->end - c->off > (1 << 30) ? (size_t)1 << 30 : (size_t)(c->end - c->off);
    ssize_t w = sendfile(c->fd, c->file, &c->off, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    if (w == 0) return -1;  // the file shrank
  }
  if (c->file >= 0) close(c->file);
  c->file = -1, c->hlen = c->hoff = 0;
  return 1;
}

static int wait_for(struct conn* c, int out) {
  if (c->out == out) return 0;
  struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  c->out = out;
  return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

// Reads, answers and writes on c as far as it can without blocking; drops it when it is done.
static void serve(struct conn* c) {
  for (;;) {
    if (c->hlen) {  // a response is under way
      int s = send_out(c);
      if (s < 0 || (s > 0 && !c->keep) || wait_for(c, s == 0) != 0) break;
      if (s == 0) return;
    }
    char* end = memmem(c->req, c->have, "\r\n\r\n", 4);
    size_t len = end ? (size_t)(end - c->req) + 4 : 0;
    if (!end && (end = memmem(c->req, c->have, "\n\n", 2))) len = (size_t)(end - c->req) + 2;
    if (len) {  // a whole request head: answer it, keep what follows (a pipelined request)
      int code = handle(c, len);
      if (code) error_response(c, code);
      c->have -= len;
      memmove(c->req, c->req + len, c->have);
      continue;
    }
    if (c->have == REQ_MAX) {
      error_response(c, 431);
      continue;
    }
    ssize_t r = recv(c->fd, c->req + c->have, REQ_MAX - c->have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) break;  // the client closed, or an error
    c->have += (size_t)r;
  }
  drop(c);
}

static void worker(int port) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != first) exit(1);  // the first process is gone already
  int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (ls < 0) die("socket");
  if (setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    die("setsockopt");
  if (bind(ls, (struct sockaddr*)&a, sizeof a) != 0) die("bind");
  if (listen(ls, 4096) != 0) die("listen");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[256];
  if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev) != 0) die("epoll");
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr) {
        serve(evs[i].data.ptr);
        continue;
      }
      int fd;
      while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct conn* c = malloc(sizeof *c);
        if (!c) {
          close(fd);
          continue;
        }
        c->fd = fd, c->file = -1, c->keep = c->out = 0, c->have = c->hlen = c->hoff = 0;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev) != 0) {
          drop(c);
          continue;
        }
        serve(c);  // the request is often there already
      }
    }
  }
}

static void stop(int sig) {
  for (int i = 0; i < nworkers; i++)
    if (workers[i] > 0) kill(workers[i], SIGTERM);
  _exit(sig == SIGTERM || sig == SIGINT ? 0 : 1);
}

int main(int argc, char** argv) {
  int port = 80, opt;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  const char* dir = ".";
  while ((opt = getopt(argc, argv, "p:d:w:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'd': dir = optarg; break;
      case 'w': n = atol(optarg); break;
      default: n = 0;
    }
  }
  if (port <= 0 || port > 65535 || n < 1 || n > MAX_WORKERS || optind != argc) {
    fprintf(stderr, "usage: %s [-p PORT] [-d DIR] [-w WORKERS (1-%d)]\n", argv[0], MAX_WORKERS);
    return 2;
  }
  if ((root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) die(dir);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = stop};
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);  // no stop() before workers[] is complete
  first = getpid();
  for (nworkers = 0; nworkers < n; nworkers++) {
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) {
      signal(SIGTERM, SIG_DFL);
      signal(SIGINT, SIG_DFL);
      sigprocmask(SIG_SETMASK, &old, NULL);
      worker(port);
    }
    workers[nworkers] = p;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  fprintf(stderr, "httpserve: %s on port %d, %d workers\n", dir, port, nworkers);
  pid_t p = wait(NULL);  // a worker died: stop the others, and fail
  for (int i = 0; i < nworkers; i++)
    if (workers[i] == p) workers[i] = 0;
  stop(0);
}
