// A malloc call counter for benchmarks, preloaded into a server (LD_PRELOAD): SIGUSR2 writes the
// number of allocation calls so far (malloc, calloc, realloc, aligned forms) to stderr.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static uint64_t calls;

void* malloc(size_t n) {
  __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
  return __libc_malloc(n);
}
void* calloc(size_t k, size_t n) {
  __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
  return __libc_calloc(k, n);
}
void* realloc(void* p, size_t n) {
  __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  void* p = memalign(a, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}

// Async-signal-safe: digits by hand, one write(2).
static void Report(int sig) {
  (void)sig;
  char buf[48] = "malloc_count ";
  char digits[24];
  int n = 0;
  uint64_t v = __atomic_load_n(&calls, __ATOMIC_RELAXED);
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  int len = 13;
  while (n) buf[len++] = digits[--n];
  buf[len++] = '\n';
  (void)!write(2, buf, (size_t)len);
}

__attribute__((constructor)) static void Install(void) { signal(SIGUSR2, Report); }
