// libpq's entry points, loaded from libpq.so.5 when the first connection is opened rather than
// linked: every ringo command would otherwise load libpq and the ~20 libraries it needs
// (Kerberos, LDAP, GnuTLS, ...), about 4 ms of each process's start. Private to the
// PostgreSQL store.
#ifndef RINGO_STORE_POSTGRES_LIBPQ_H_
#define RINGO_STORE_POSTGRES_LIBPQ_H_

#include <libpq-fe.h>

#include "common/status.h"

namespace ringo::store::pg {

// The functions the store calls, under libpq's names.
struct Libpq {
  decltype(&::PQclear) PQclear;
  decltype(&::PQcmdTuples) PQcmdTuples;
  decltype(&::PQconnectdbParams) PQconnectdbParams;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQexec) PQexec;
  decltype(&::PQexecParams) PQexecParams;
  decltype(&::PQexecPrepared) PQexecPrepared;
  decltype(&::PQfformat) PQfformat;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQgetisnull) PQgetisnull;
  decltype(&::PQgetlength) PQgetlength;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQprepare) PQprepare;
  decltype(&::PQreset) PQreset;
  decltype(&::PQresultErrorField) PQresultErrorField;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQtransactionStatus) PQtransactionStatus;
};

// Loads libpq once per process; thread-safe. kFailedPrecondition, with the loader's message,
// when the library or one of its functions cannot be found (then on every call).
Status LoadLibpq();

// The loaded functions: only after LoadLibpq() succeeded, which every Db's existence implies.
const Libpq& Pq();

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_LIBPQ_H_
