// Registry searches evaluated in memory, for every engine: the filter and order of
// registered-models/search and model-versions/search applied to the models or versions an engine
// loads, then paged. Registries hold hundreds of models, not millions of runs, so one grammar
// and one evaluator serve every engine instead of a SQL compiler per dialect.
#ifndef RINGO_STORE_REGISTRY_SEARCH_H_
#define RINGO_STORE_REGISTRY_SEARCH_H_

#include <functional>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::store {

// Parses the search first (a bad filter fails before anything loads), then pages what
// `load_all` returns. Default order: name ascending.
Result<RegisteredModelPage> SearchRegisteredModelsIn(
    const RegistrySearch& search,
    const std::function<Result<std::vector<RegisteredModel>>()>& load_all);

// Default order: name ascending, then version descending.
Result<ModelVersionPage> SearchModelVersionsIn(
    const RegistrySearch& search,
    const std::function<Result<std::vector<ModelVersion>>()>& load_all);

}  // namespace ringo::store

#endif  // RINGO_STORE_REGISTRY_SEARCH_H_
