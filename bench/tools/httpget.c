// httpget: one HTTP/1.0 GET over one TCP connection, the body received and thrown away, for
// bench/network.sh's bulk stream, so that the client is not what limits the figure (curl -o
// /dev/null reads 16 KiB at a time and writes each piece to /dev/null: two system calls per
// 16 KiB). The body is read with recv into one buffer of BUF bytes (default 1 MiB), so it is
// copied to user space as any client's data would be, in few system calls.
// The socket's receive buffer is left to the kernel's autotuning.
//   httpget [-b BUF] [-t SECONDS] http://IPV4:PORT/PATH
// Prints "STATUS BODY-BYTES SECONDS MB/S CPU-SECONDS" (seconds from before connect to the last
// byte; MB/s in 10^6 bytes per second; the CPU time, user and system, the client itself used in
// that time, which includes the kernel's receive work done in its context). Fails (status 1) unless the status is 200 and the body has exactly the
// announced Content-Length. SECONDS (default 120) bounds the whole transfer.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int usage(const char* self) {
  fprintf(stderr, "usage: %s [-b BUF] [-t SECONDS] http://IPV4:PORT/PATH\n", self);
  return 2;
}

int main(int argc, char** argv) {
  long bufsize = 1 << 20, limit = 120;
  int opt;
  while ((opt = getopt(argc, argv, "b:t:")) != -1) {
    switch (opt) {
      case 'b': bufsize = atol(optarg); break;
      case 't': limit = atol(optarg); break;
      default: return usage(argv[0]);
    }
  }
  if (optind != argc - 1 || bufsize < 4096 || bufsize > (1L << 30) || limit < 1) return usage(argv[0]);
  // http://A.B.C.D:PORT/PATH
  const char* url = argv[optind];
  char host[64];
  unsigned port;
  int n = 0;
  if (strncmp(url, "http://", 7) != 0 || sscanf(url + 7, "%63[0-9.]:%u%n", host, &port, &n) != 2 || port == 0 ||
      port > 65535 || url[7 + n] != '/') {
    fprintf(stderr, "httpget: %s: want http://IPV4:PORT/PATH\n", url);
    return 2;
  }
  const char* path = url + 7 + n;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "httpget: %s: not an IPv4 address\n", host);
    return 2;
  }
  char* buf = malloc((size_t)bufsize);
  if (!buf) {
    perror("httpget: malloc");
    return 1;
  }

  double t0 = now();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = {.tv_sec = limit};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    perror("httpget: socket");
    return 1;
  }
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    fprintf(stderr, "httpget: connect to %s:%u: %s\n", host, port, strerror(errno));
    return 1;
  }
  char req[2048];
  int rlen = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: httpget\r\n\r\n", path, host, port);
  if (rlen < 0 || (size_t)rlen >= sizeof req) {
    fprintf(stderr, "httpget: path too long\n");
    return 2;
  }
  if (send(fd, req, (size_t)rlen, MSG_NOSIGNAL) != rlen) {
    fprintf(stderr, "httpget: send the request: %s\n", strerror(errno));
    return 1;
  }

  // The head, then the body: whatever follows the head in the same read counts as body.
  size_t have = 0;
  char* end = NULL;
  while (!end) {
    if (have == (size_t)bufsize) {
      fprintf(stderr, "httpget: no end of the response head in %zu bytes\n", have);
      return 1;
    }
    ssize_t r = recv(fd, buf + have, (size_t)bufsize - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      fprintf(stderr, "httpget: read the response head: %s\n", r < 0 ? strerror(errno) : "connection closed");
      return 1;
    }
    have += (size_t)r;
    end = memmem(buf, have, "\r\n\r\n", 4);
  }
  *end = 0;
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*1[01] %d", &status) != 1) {
    fprintf(stderr, "httpget: not an HTTP response: %.80s\n", buf);
    return 1;
  }
  long long want = -1;
  for (char* h = strstr(buf, "\r\n"); h; h = strstr(h + 2, "\r\n"))
    if (strncasecmp(h + 2, "Content-Length:", 15) == 0) want = atoll(h + 17);
  long long got = (long long)(have - (size_t)(end + 4 - buf));
  for (;;) {
    ssize_t r = recv(fd, buf, (size_t)bufsize, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fprintf(stderr, "httpget: read the body after %lld bytes: %s\n", got, strerror(errno));
      return 1;
    }
    if (r == 0) break;
    got += r;
  }
  double secs = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  close(fd);
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("%d %lld %.6f %.1f %.6f\n", status, got, secs, (double)got / secs / 1e6, cpu);
  if (status != 200 || want < 0 || got != want) {
    fprintf(stderr, "httpget: HTTP %d, %lld body bytes, Content-Length %lld\n", status, got, want);
    return 1;
  }
  return 0;
}
