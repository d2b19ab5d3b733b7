// The evaluator's matrix product: OpenBLAS's sgemm, loaded the first time a product is needed.
// Linked, OpenBLAS loaded with every ringo command and started a worker thread that spun on
// the second core for the first tenth of a second of each (a fp16 conversion took 16 ms
// longer for it); most commands never multiply a matrix.
#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>

#include "coreml/kernels.h"

namespace ringo::coreml::kernels {

namespace {

using Sgemm = decltype(&cblas_sgemm);

Sgemm LoadSgemm() {
  for (const char* name : {"libopenblas.so.0", "libblas.so.3"}) {
    void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) continue;
    if (void* f = ::dlsym(lib, "cblas_sgemm")) return reinterpret_cast<Sgemm>(f);
    ::dlclose(lib);
  }
  std::fprintf(stderr, "ringo: OpenBLAS not found (libopenblas.so.0); evaluating without it, "
                       "slowly\n");
  return nullptr;
}

}  // namespace

void PlainGemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b) {
  std::fill(c, c + m * n, 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * n;
    for (int64_t p = 0; p < k; ++p) {
      const float x = trans_a ? a[p * m + i] : a[i * k + p];
      if (trans_b) {
        for (int64_t j = 0; j < n; ++j) row[j] += x * b[j * k + p];
      } else {
        const float* brow = b + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] += x * brow[j];
      }
    }
  }
}

void Gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  static const Sgemm sgemm = LoadSgemm();
  if (sgemm == nullptr) return PlainGemm(a, b, c, m, n, k, trans_a, trans_b);
  sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
        static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
        static_cast<int>(trans_a ? m : k), b, static_cast<int>(trans_b ? k : n), 0.0f, c,
        static_cast<int>(n));
}

}  // namespace ringo::coreml::kernels
