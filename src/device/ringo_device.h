/* ringo device SDK: fetches signed Core ML deployments from a ringo server and keeps them on disk.
 *
 * A plain C API so that Swift, Objective-C and Kotlin/JNI can call it. The SDK itself does no
 * networking and no cryptography of its own: the app passes a transport (URLSession on Apple
 * platforms; transport_posix.cc is an HTTP and HTTPS default for Linux and tests) and a crypto
 * backend (CryptoKit; crypto_openssl.cc is the OpenSSL default). It depends on nothing from the
 * server.
 *
 * Storage layout under ringo_config.storage_dir (owned by one client at a time):
 *   current                 pointer file (JSON: current and previous deployment, ETag, bad ids),
 *                           replaced atomically (write temp + fsync + rename)
 *   deployments/<id>/       an installed deployment: ringo.json + one model file/package per model
 *   staging-<id>/           a deployment being assembled; renamed into deployments/ when complete
 *   blobs/<sha256>[.part]   downloaded blobs; .part files are resumed with HTTP Range
 *   telemetry.jsonl         queued telemetry events, one JSON object per line
 *
 * Thread safety: every function may be called from any thread. A client serialises network and
 * update work (ringo_check_for_update, ringo_report_failure, ringo_flush_telemetry) on one internal
 * mutex and guards its in-memory state with another, so ringo_model_path, ringo_current_deployment
 * and ringo_record_event never wait for a download.
 * Two clients (or processes) must not share a storage directory at the same time.
 */
#ifndef RINGO_DEVICE_H_
#define RINGO_DEVICE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. RINGO_OK and RINGO_NO_UPDATE are successes; every negative value is a failure
 * whose message ringo_last_error() returns. */
typedef enum ringo_status {
  RINGO_OK = 0,
  RINGO_NO_UPDATE = 1,         /* nothing changed: 304, same deployment, or a known-bad one */
  RINGO_ERR_INVALID = -1,      /* bad argument or configuration (NULL pointer, bad key, ...) */
  RINGO_ERR_NETWORK = -2,      /* the transport failed, or the server answered an unexpected status */
  RINGO_ERR_SIGNATURE = -3,    /* the manifest signature is missing or does not verify */
  RINGO_ERR_MANIFEST = -4,     /* a signed manifest that is malformed or for another collection/channel */
  RINGO_ERR_INTEGRITY = -5,    /* a blob's size or sha256 differs from the manifest */
  RINGO_ERR_ARCHIVE = -6,      /* an unsafe or malformed mlpackage.tar (absolute path, "..", link) */
  RINGO_ERR_IO = -7,           /* a local filesystem operation failed */
  RINGO_ERR_NOT_FOUND = -8,    /* no such model in the current deployment, or nothing installed */
  RINGO_ERR_BUFFER = -9,       /* the caller's buffer is too small; nothing was written */
  RINGO_ERR_INTERNAL = -10     /* out of memory or a bug */
} ringo_status;

/* Returns a static English name for a code ("RINGO_ERR_SIGNATURE"); never NULL. */
const char* ringo_status_name(int status);

/* ---- transport --------------------------------------------------------------------------- */

/* One HTTP response, streamed. The SDK fills `sink`, `on_header` and `on_body`; the transport sets
 * `status` first, then calls on_header once per response header and on_body for each piece of the
 * (de-chunked) body, in order, before returning. A nonzero return from a callback asks the transport to stop (and return
 * nonzero). The transport must follow no redirects and must not decompress blobs: the SDK follows
 * a blob's redirect (to an object store's presigned URL) itself, without the device's token. */
typedef struct ringo_response {
  int status;
  void* sink;
  int (*on_header)(void* sink, const char* name, const char* value);
  int (*on_body)(void* sink, const void* data, size_t len);
} ringo_response;

/* A transport. `url` is absolute ("http://host:port/path?query"); `headers` is a NULL-terminated
 * array of "Name: value" strings (may be empty, never NULL). Each function returns 0 when a complete
 * response was received (any HTTP status) and nonzero when the exchange failed; on failure part of
 * the body may already have been delivered to on_body (the SDK keeps it and resumes with Range).
 * Both functions are called from the thread that called into the SDK and may block. */
typedef struct ringo_transport {
  int (*get)(void* ctx, const char* url, const char* const* headers, ringo_response* out);
  int (*post)(void* ctx, const char* url, const char* const* headers, const void* body,
              size_t body_len, ringo_response* out);
} ringo_transport;

/* The default transport: HTTP/1.1 over POSIX sockets for `http://` and `https://` URLs (TLS 1.2
 * or later on OpenSSL 3), one connection per request, 30 s socket timeouts. https verifies the
 * server's certificate against the system's CAs (OpenSSL's default verify paths) plus those of
 * the options below, and that it names the URL's host (or IP address). Its ctx is a
 * `const ringo_transport_posix_options*` (NULL: system CAs only), which must outlive the client.
 * Defined in transport_posix.cc (library ringo_device_posix). Returns a static table. */
const ringo_transport* ringo_transport_posix(void);

/* What ringo_transport_posix trusts besides the system's CAs; either or both may be NULL. */
typedef struct ringo_transport_posix_options {
  const char* ca_file; /* a PEM file of CA certificates */
  const char* ca_pem;  /* PEM text of CA certificates (e.g. embedded in a test or tool) */
} ringo_transport_posix_options;

/* Why the last failing exchange of ringo_transport_posix on this thread failed ("" if none):
 * e.g. "TLS handshake with example.org failed: certificate verify failed: unable to get local
 * issuer certificate". Valid until the thread's next exchange. */
const char* ringo_transport_posix_last_error(void);

/* ---- crypto ------------------------------------------------------------------------------ */

/* A crypto backend. verify_ed25519 returns 1 when `sig` (64 bytes) is a valid Ed25519 signature of
 * msg[0..len) under the raw 32-byte `public_key`, 0 otherwise. sha256_begin returns a fresh hashing
 * state (NULL on failure); sha256_update adds bytes; sha256_end writes the 32-byte digest to `out`,
 * frees the state and returns 0 (nonzero on failure; the state is freed either way). */
typedef struct ringo_crypto {
  int (*verify_ed25519)(void* ctx, const uint8_t public_key[32], const void* msg, size_t len,
                        const uint8_t sig[64]);
  void* (*sha256_begin)(void* ctx);
  void (*sha256_update)(void* ctx, void* state, const void* data, size_t len);
  int (*sha256_end)(void* ctx, void* state, uint8_t out[32]);
} ringo_crypto;

/* The default crypto backend on OpenSSL 3 (crypto_openssl.cc, library ringo_device_openssl).
 * Its ctx is unused (pass NULL). Returns a static table. */
const ringo_crypto* ringo_crypto_openssl(void);

/* ---- configuration ----------------------------------------------------------------------- */

/* What the device says about itself; the server uses it for targeting and staged rollout. Every
 * field may be NULL or "" (then it is not sent). `id` should be stable per install: rollouts hash it. */
typedef struct ringo_device_info {
  const char* id;
  const char* device_class; /* "iPhone", "iPad", "Mac", ... */
  const char* os;           /* "iOS", "macOS", ... */
  const char* os_version;
  const char* app_version;
  const char* region;
  const char* language;
} ringo_device_info;

/* Called after the current deployment changed (installed, or fallen back), on the thread that made
 * the change, with no SDK lock held (it may call ringo_model_path). `deployment_id` is "" when no
 * deployment is left. */
typedef void (*ringo_change_fn)(void* ctx, const char* deployment_id);

typedef struct ringo_config {
  const char* base_url;    /* required: "http://host:port" (no trailing path) */
  const char* token;       /* optional: sent as "Authorization: Bearer <token>" */
  const char* collection;  /* required */
  const char* channel;     /* required: "release", "staging", ... */
  ringo_device_info device;
  const char* storage_dir; /* required: created if missing; the SDK owns everything inside */
  const char* public_key;  /* required: the server's Ed25519 key, base64 of 32 raw bytes
                              (`ringo deploy keys`), embedded in the app at build time; during
                              a key rotation both keys, separated by a comma */
  const ringo_transport* transport; /* required */
  void* transport_ctx;
  const ringo_crypto* crypto;       /* required */
  void* crypto_ctx;
  ringo_change_fn on_change;        /* optional */
  void* on_change_ctx;
  size_t telemetry_max_events;      /* queue bound; oldest dropped beyond it. 0 means 1000 */
  size_t telemetry_batch_size;      /* events per POST. 0 means 100 */
} ringo_config;

typedef struct ringo_client ringo_client;

/* Creates a client and loads its state from storage_dir (current deployment, queued telemetry);
 * leftover staging directories of an interrupted install are removed. The config and every string
 * in it are copied; the transport, crypto tables and contexts must outlive the client. Returns NULL
 * on failure; then, if `error` is not NULL, writes a NUL-terminated message into error[0..error_len). */
ringo_client* ringo_client_create(const ringo_config* config, char* error, size_t error_len);

/* Destroys the client. Queued telemetry stays on disk for the next client. NULL is a no-op. No
 * other call on this client may be running or follow. */
void ringo_client_destroy(ringo_client* client);

/* The message of the last failing call on `client` (from any thread), or "" if none. The pointer is
 * to a per-thread copy, valid until the calling thread calls ringo_last_error again. */
const char* ringo_last_error(const ringo_client* client);

/* ---- updates ----------------------------------------------------------------------------- */

typedef struct ringo_update_result {
  int changed;                    /* 1 when the current deployment switched during this call */
  char deployment_id[64];         /* current deployment after the call ("" if none) */
  char previous_deployment_id[64];/* the one kept for fallback ("" if none) */
  int models_downloaded;          /* blobs fetched (fully or resumed) during this call */
  int64_t bytes_downloaded;       /* body bytes received for blobs during this call */
} ringo_update_result;

/* Asks the server for this device's manifest (If-None-Match: the ETag of the last manifest acted
 * on) and installs it when it names a new deployment:
 *   verify the Ed25519 signature over the exact body, parse it, check collection and channel;
 *   refuse it when its sequence is below the last one accepted for this channel (a replayed
 *   manifest) or it has expired (this uses the device's clock); once the accepted manifest has
 *   expired the next check asks for a full one rather than a 304;
 *   download each blob not already held (resuming a .part file with Range), check size and sha256;
 *   unpack mlpackage.tar safely; assemble staging-<id>/, fsync, rename to deployments/<id>/;
 *   replace the `current` pointer atomically; keep the previous deployment; delete older ones;
 *   queue a `downloaded` telemetry event per model fetched.
 * Any failure leaves the current deployment in place and untouched. A deployment earlier marked bad
 * with ringo_report_failure is not installed again. `result` may be NULL.
 * Returns RINGO_OK (installed; result->changed == 1), RINGO_NO_UPDATE (304, the channel has no
 * deployment (404), the same deployment, or a bad one), or RINGO_ERR_NETWORK, _SIGNATURE, _MANIFEST,
 * _INTEGRITY, _ARCHIVE, _IO, _INVALID. Blocks for the whole download; one update runs at a time. */
int ringo_check_for_update(ringo_client* client, ringo_update_result* result);

/* Writes the id of the current deployment into buf ("" when none). Returns RINGO_OK,
 * RINGO_ERR_BUFFER, or RINGO_ERR_INVALID. */
int ringo_current_deployment(ringo_client* client, char* buf, size_t len);

/* Writes the absolute path of model `model_name` in the current deployment into buf: a .mlmodel
 * file or an .mlpackage directory, ready for MLModel.compileModel(at:). The path stays valid until
 * the deployment is two updates old, so compile or copy it before the next check. Returns RINGO_OK,
 * RINGO_ERR_NOT_FOUND (nothing installed or no such model; use the model bundled in the app),
 * RINGO_ERR_BUFFER, or RINGO_ERR_INVALID. `version`, if not NULL, receives the registry version
 * (at most version_len bytes with the NUL). */
int ringo_model_path(ringo_client* client, const char* model_name, char* buf, size_t len,
                     char* version, size_t version_len);

/* Reports that the current deployment does not work on this device (e.g. `model` failed to compile
 * or load): marks it bad (remembered across restarts, never re-installed), falls back to the
 * previous deployment (the pointer swaps back; with none, no deployment is current and the app uses
 * its bundled model), deletes the bad one, and queues a `failed` event with `error`. Returns
 * RINGO_OK, RINGO_ERR_NOT_FOUND (nothing installed), RINGO_ERR_IO, RINGO_ERR_INVALID. */
int ringo_report_failure(ringo_client* client, const char* model, const char* error);

/* ---- telemetry --------------------------------------------------------------------------- */

typedef enum ringo_event_kind {
  RINGO_EVENT_DOWNLOADED = 0,
  RINGO_EVENT_COMPILED = 1,
  RINGO_EVENT_LOADED = 2,
  RINGO_EVENT_FAILED = 3,
  RINGO_EVENT_PREDICTION = 4,
  RINGO_EVENT_FEEDBACK = 5 /* the true label arrived: was an earlier prediction correct? */
} ringo_event_kind;

typedef struct ringo_event {
  ringo_event_kind kind;
  const char* model;        /* required */
  const char* version;      /* NULL: the version of `model` in the current deployment */
  double latency_ms;        /* sent when >= 0; set to -1 to omit */
  const char* compute_unit; /* optional: "ANE", "GPU", "CPU" */
  const char* error;        /* optional */
  int correct;              /* RINGO_EVENT_FEEDBACK: 1 right, 0 wrong (ignored otherwise) */
} ringo_event;

/* Queues one event (device_class, os, os_version and app_version from the config are added, so
 * the server can break telemetry down by them) and appends it to telemetry.jsonl, so it
 * survives a restart; beyond telemetry_max_events the oldest are dropped. Nothing is sent until
 * ringo_flush_telemetry. Returns RINGO_OK, RINGO_ERR_INVALID (no model, or no version known), or
 * RINGO_ERR_IO (queued in memory but not persisted). */
int ringo_record_event(ringo_client* client, const ringo_event* event);

/* Posts queued events in batches of telemetry_batch_size to /api/deploy/v1/telemetry and removes
 * each accepted batch. A batch the server rejects as invalid (4xx) is dropped; on a network error or
 * 5xx the remaining events stay queued. Returns RINGO_OK (queue empty, or it was), RINGO_ERR_NETWORK,
 * RINGO_ERR_IO. `sent`, if not NULL, receives the number of events accepted. */
int ringo_flush_telemetry(ringo_client* client, size_t* sent);

/* Number of queued events. */
size_t ringo_pending_events(ringo_client* client);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_DEVICE_H_ */
