// Registry searches evaluated in memory over loaded models and versions.
#include "store/registry_search.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <string>

#include "store/paging.h"
#include "store/search_filter.h"

namespace ringo::store {

namespace {

constexpr int64_t kMaxModels = 1000;
constexpr int64_t kMaxVersions = 200000;

std::optional<std::string> TagValue(const std::vector<Tag>& tags, const std::string& key) {
  for (const Tag& t : tags) {
    if (t.key == key) return t.value;
  }
  return std::nullopt;
}

std::optional<std::string> Field(const RegisteredModel& m, const Clause& c) {
  if (c.entity == Entity::kTag) return TagValue(m.tags, c.key);
  return m.name;  // the only filterable attribute
}

std::optional<std::string> Field(const ModelVersion& v, const Clause& c) {
  if (c.entity == Entity::kTag) return TagValue(v.tags, c.key);
  if (c.key == "name") return v.name;
  if (c.key == "run_id") return v.run_id;
  if (c.key == "source_path") return v.source;
  return std::to_string(v.version);
}

// MLflow 3's clients add `tag.`mlflow.prompt.is_prompt` != 'true'` to every registered-model
// search, to leave prompts out; MLflow's store counts a model without that tag as no prompt.
constexpr char kIsPromptTag[] = "mlflow.prompt.is_prompt";

bool Matches(const Clause& c, const std::optional<std::string>& value) {
  if (!value && c.entity == Entity::kTag && c.op == Comparator::kNe && c.key == kIsPromptTag) {
    return true;
  }
  return ClauseMatches(c, value);
}

int Compare(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

// <0, 0, >0 as `a` sorts before, with or after `b` on one attribute key.
template <typename T>
int CompareOn(const T& a, const T& b, const std::string& key) {
  if (key == "name") return a.name.compare(b.name);
  if (key == "creation_timestamp") return Compare(a.creation_time, b.creation_time);
  if (key == "last_updated_timestamp") return Compare(a.last_updated_time, b.last_updated_time);
  if constexpr (std::is_same_v<T, ModelVersion>) {
    if (key == "version_number") return Compare(a.version, b.version);
  }
  return 0;
}

// Filters, sorts and pages `all` in place; the parsing already happened.
template <typename T>
Result<std::vector<T>> Page(std::vector<T> all, const std::vector<Clause>& clauses,
                            const std::vector<OrderKey>& order, int64_t offset, int64_t max,
                            std::string* next_token) {
  std::erase_if(all, [&](const T& item) {
    for (const Clause& c : clauses) {
      if (!Matches(c, Field(item, c))) return true;
    }
    return false;
  });
  std::stable_sort(all.begin(), all.end(), [&](const T& a, const T& b) {
    for (const OrderKey& k : order) {
      int c = CompareOn(a, b, k.key);
      if (c != 0) return k.ascending ? c < 0 : c > 0;
    }
    return false;
  });
  std::vector<T> page;
  for (int64_t i = offset; i < int64_t(all.size()) && i < offset + max; ++i) {
    page.push_back(std::move(all[size_t(i)]));
  }
  if (offset + max < int64_t(all.size())) *next_token = EncodeOffsetToken(offset + max);
  return page;
}

template <typename ParseOrder>
Result<std::vector<OrderKey>> ParseOrderList(const std::vector<std::string>& texts,
                                             ParseOrder parse) {
  std::vector<OrderKey> order;
  for (const std::string& text : texts) {
    ASSIGN_OR_RETURN(OrderKey k, parse(text));
    order.push_back(std::move(k));
  }
  return order;
}

}  // namespace

Result<RegisteredModelPage> SearchRegisteredModelsIn(
    const RegistrySearch& search,
    const std::function<Result<std::vector<RegisteredModel>>()>& load_all) {
  RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxModels));
  ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseRegisteredModelFilter(search.filter));
  ASSIGN_OR_RETURN(std::vector<OrderKey> order,
                   ParseOrderList(search.order_by, ParseRegisteredModelOrderBy));
  order.push_back(OrderKey{Entity::kAttribute, "name", true});
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(std::vector<RegisteredModel> all, load_all());
  RegisteredModelPage page;
  ASSIGN_OR_RETURN(page.models, Page(std::move(all), clauses, order, offset, search.max_results,
                                     &page.next_page_token));
  return page;
}

Result<ModelVersionPage> SearchModelVersionsIn(
    const RegistrySearch& search,
    const std::function<Result<std::vector<ModelVersion>>()>& load_all) {
  RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxVersions));
  ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseModelVersionFilter(search.filter));
  ASSIGN_OR_RETURN(std::vector<OrderKey> order,
                   ParseOrderList(search.order_by, ParseModelVersionOrderBy));
  // MLflow's order: newest change first unless asked otherwise, ties by name, then newest
  // version.
  if (order.empty()) order.push_back({Entity::kAttribute, "last_updated_timestamp", false});
  order.push_back({Entity::kAttribute, "name", true});
  order.push_back({Entity::kAttribute, "version_number", false});
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(std::vector<ModelVersion> all, load_all());
  ModelVersionPage page;
  ASSIGN_OR_RETURN(page.versions, Page(std::move(all), clauses, order, offset, search.max_results,
                                       &page.next_page_token));
  return page;
}

}  // namespace ringo::store
