// The webhook delivery log kept in the store.
#include "common/json_writer.h"
#include "webhooks/webhooks.h"

namespace ringo::webhooks {

Sender::Report StoreDeliveryLog(store::Store* store, std::string source) {
  return [store, source = std::move(source)](const Sender::Attempt& a) {
    std::string json;
    JsonWriter w(&json);
    w.BeginObject()
        .Field("source", source)
        .Field("url", a.url)
        .Field("attempt", int64_t{a.attempt})
        .FieldBool("final", a.final)
        .Field("status", int64_t{a.status})
        .Field("error", a.error)
        .Field("duration_ms", a.duration_ms)
        .EndObject();
    store->AppendEvent(kDeliveryKind, kDeliveryKey, std::move(json), [](Status) {});
  };
}

}  // namespace ringo::webhooks
