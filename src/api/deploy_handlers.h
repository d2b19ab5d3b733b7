// HTTP handlers of over-the-air delivery: the admin API and the device API (private to api/).
#ifndef RINGO_API_DEPLOY_HANDLERS_H_
#define RINGO_API_DEPLOY_HANDLERS_H_

#include "deploy/deploy.h"
#include "http/http.h"

namespace ringo::api {

// /api/ringo/v1/{collections,deployments,channels,telemetry}... (admin) and
// /api/deploy/v1/{keys,collections/C/channels/CH/manifest,blobs/SHA,telemetry} (devices).
void RegisterDeploy(http::Router& router, deploy::Service* service);

}  // namespace ringo::api

#endif  // RINGO_API_DEPLOY_HANDLERS_H_
