// The ceiling the benchmarks compare ringo with: a single-threaded epoll HTTP/1.1 server that
// reads each request (headers and a Content-Length body) and answers it with a fixed response,
// keeping connections alive. No routing, no parsing beyond framing, no store.
// Usage: trivial_responder PORT_FILE 200|304
//   Listens on 127.0.0.1 on an ephemeral port, writes the port to PORT_FILE, serves until killed.
//   200 answers `{}` as JSON (the do-nothing server for log-metric); 304 answers Not Modified
//   with an ETag (the trivial responder for manifest polls).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {
  int fd;
  size_t used;       // bytes buffered in `buf`
  size_t body_left;  // bytes of the current request's body still to skip
  char buf[BUF_SIZE];
};

static const char* response;
static size_t response_len;

// Content-Length of the header block [start, end), 0 when absent.
static size_t content_length(const char* start, const char* end) {
  static const char name[] = "content-length:";
  for (const char* p = start; p + sizeof name - 1 < end; ++p) {
    if ((p == start || p[-1] == '\n') && strncasecmp(p, name, sizeof name - 1) == 0) {
      return strtoul(p + sizeof name - 1, NULL, 10);
    }
  }
  return 0;
}

// Answers every complete request in the buffer; -1 when the connection should close.
static int serve(struct conn* c) {
  size_t pos = 0;
  size_t answers = 0;
  for (;;) {
    if (c->body_left > 0) {
      size_t skip = c->used - pos < c->body_left ? c->used - pos : c->body_left;
      pos += skip;
      c->body_left -= skip;
      if (c->body_left > 0) break;
      ++answers;
      continue;
    }
    char* head = c->buf + pos;
    char* end = memmem(head, c->used - pos, "\r\n\r\n", 4);
    if (end == NULL) break;
    end += 4;
    size_t body = content_length(head, end);
    pos = (size_t)(end - c->buf);
    if (body > 0) {
      c->body_left = body;
    } else {
      ++answers;
    }
  }
  memmove(c->buf, c->buf + pos, c->used - pos);
  c->used -= pos;
  if (c->used == BUF_SIZE) return -1;  // a header larger than the buffer
  for (size_t i = 0; i < answers; ++i) {
    if (write(c->fd, response, response_len) != (ssize_t)response_len) return -1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[2], "200") != 0 && strcmp(argv[2], "304") != 0)) {
    fprintf(stderr, "usage: trivial_responder PORT_FILE 200|304\n");
    return 2;
  }
  response = strcmp(argv[2], "200") == 0
                 ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                 : "HTTP/1.1 304 Not Modified\r\nETag: \"0123456789abcdef\"\r\n"
                   "Cache-Control: no-cache\r\n\r\n";
  response_len = strlen(response);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(ls, 4096) != 0 ||
      getsockname(ls, (struct sockaddr*)&addr, &len) != 0) {
    perror("trivial_responder: listen");
    return 1;
  }
  FILE* f = fopen(argv[1], "w");
  if (f == NULL) {
    perror("trivial_responder: port file");
    return 1;
  }
  fprintf(f, "%d\n", ntohs(addr.sin_port));
  fclose(f);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn* nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      ssize_t got = read(c->fd, c->buf + c->used, BUF_SIZE - c->used);
      if (got > 0) {
        c->used += (size_t)got;
        if (serve(c) == 0) continue;
      } else if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      close(c->fd);
      free(c);
    }
  }
}
