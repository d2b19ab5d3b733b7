// libpq loaded on first use.
#include "store/postgres/libpq.h"

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <type_traits>

namespace ringo::store::pg {

namespace {

Libpq g_libpq;
std::string g_error;  // empty once loaded
std::once_flag g_once;

// The soname, stable since PostgreSQL 8.0: libpq's interface only grows.
constexpr char kLibrary[] = "libpq.so.5";

void Load() {
  void* lib = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    g_error = std::string("postgresql: cannot load ") + kLibrary + ": " + (why ? why : "");
    return;
  }
  // Never closed: the connections' functions stay in use until the process exits.
  Libpq pq;
  const char* missing = nullptr;
  auto resolve = [&](const char* name, auto* fn) {
    using Fn = std::remove_pointer_t<decltype(fn)>;
    *fn = reinterpret_cast<Fn>(dlsym(lib, name));
    if (*fn == nullptr && missing == nullptr) missing = name;
  };
#define RINGO_RESOLVE(name) resolve(#name, &pq.name)
  RINGO_RESOLVE(PQclear);
  RINGO_RESOLVE(PQcmdTuples);
  RINGO_RESOLVE(PQconnectdbParams);
  RINGO_RESOLVE(PQerrorMessage);
  RINGO_RESOLVE(PQexec);
  RINGO_RESOLVE(PQexecParams);
  RINGO_RESOLVE(PQexecPrepared);
  RINGO_RESOLVE(PQfformat);
  RINGO_RESOLVE(PQfinish);
  RINGO_RESOLVE(PQgetisnull);
  RINGO_RESOLVE(PQgetlength);
  RINGO_RESOLVE(PQgetvalue);
  RINGO_RESOLVE(PQntuples);
  RINGO_RESOLVE(PQprepare);
  RINGO_RESOLVE(PQreset);
  RINGO_RESOLVE(PQresultErrorField);
  RINGO_RESOLVE(PQresultErrorMessage);
  RINGO_RESOLVE(PQresultStatus);
  RINGO_RESOLVE(PQsetNoticeProcessor);
  RINGO_RESOLVE(PQstatus);
  RINGO_RESOLVE(PQtransactionStatus);
#undef RINGO_RESOLVE
  if (missing != nullptr) {
    g_error = std::string("postgresql: ") + kLibrary + " has no " + missing;
    return;
  }
  g_libpq = pq;
}

}  // namespace

Status LoadLibpq() {
  std::call_once(g_once, Load);
  return g_error.empty() ? Status::Ok() : FailedPrecondition(g_error);
}

const Libpq& Pq() { return g_libpq; }

}  // namespace ringo::store::pg
