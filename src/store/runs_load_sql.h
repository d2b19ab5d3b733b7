// SQL that loads runs, shared by the SQL engines (private to store/): three statements for up to
// kLoadSlice runs at once (runs; latest metrics, params and tags; inputs), two for a page of
// search results, whose runs the search read already, not five per run (each statement is a
// round trip on PostgreSQL); one run the same way, with cached statements.
#ifndef RINGO_STORE_RUNS_LOAD_SQL_H_
#define RINGO_STORE_RUNS_LOAD_SQL_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/search_sql.h"
#include "store/store.h"

namespace ringo::store::runs {

// Runs per statement: well under both engines' limits on bound values.
inline constexpr size_t kLoadSlice = 500;

// Reads the columns kRunInfoColumns names, from column 0 of the current row of
// `r` (a runs statement or a run search).
template <typename Row>
void ReadInfo(Row& r, RunInfo& i) {
  i.run_id = r.Text(0);
  i.experiment_id = std::to_string(r.Int(1));
  i.run_name = r.Text(2);
  i.user_id = r.Text(3);
  i.status = r.Text(4);
  i.start_time = r.Int(5);
  if (!r.IsNull(6)) i.end_time = r.Int(6);
  i.artifact_uri = r.Text(7);
  i.lifecycle_stage = r.Text(8);
}

namespace load_detail {

// Runs `sql` (each of whose "IN (?)" is widened to a placeholder per id, or on an engine whose
// Db has kIdArrays to "= ANY" of one array parameter) with the ids bound to each, and hands each
// row with the index of its run (its second column when `kind_first`, else its first) to `row`.
template <typename Db, typename Row>
Status EachRow(Db& db, std::string_view sql, std::span<const std::string> ids,
               const std::map<std::string_view, size_t>& index, const Row& row,
               bool kind_first = false) {
  const int id_col = kind_first ? 1 : 0;
  auto rows = [&](auto& stmt) {
    Status s;
    while (stmt.Step(&s)) {
      auto it = index.find(stmt.Text(id_col));
      if (it != index.end()) row(stmt, it->second);
    }
    return s;
  };
  std::string text(sql);
  auto widen = [&text](std::string_view list) {
    int lists = 0;
    for (size_t at = text.find("IN (?)"); at != std::string::npos;
         at = text.find("IN (?)", at + list.size()), ++lists) {
      text.replace(at, 6, list);
    }
    return lists;
  };
  if constexpr (requires { Db::kIdArrays; }) {
    // The same text for any number of ids, so the statement stays prepared on the server.
    int lists = widen("= ANY(?::text[])");
    ASSIGN_OR_RETURN(auto* q, db.Prepare(text));
    typename Db::Guard g(*q);
    for (int l = 0; l < lists; ++l) BindIdArray(*g, l + 1, ids);
    return rows(*g);
  }
  std::string list = "IN (";
  for (size_t i = 0; i < ids.size(); ++i) list += i ? ",?" : "?";
  list += ')';
  int lists = widen(list);
  auto run = [&](auto& stmt) {
    for (int l = 0; l < lists; ++l) {
      for (size_t i = 0; i < ids.size(); ++i) {
        stmt.Bind(int(l * ids.size() + i + 1), std::string_view(ids[i]));
      }
    }
    return rows(stmt);
  };
  // One run (GetRun and the like) keeps its statements prepared; a page's lists vary in length.
  if (ids.size() == 1) {
    ASSIGN_OR_RETURN(auto* q, db.Prepare(text));
    typename Db::Guard g(*q);
    return run(*g);
  }
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(text));
  return run(*stmt);
}

// A run's latest metrics, params and tags in one statement (a round trip each on PostgreSQL):
// rows of (kind, run_id, key, text value, metric value, timestamp, step, is_nan), kind 0 a
// metric, 1 a param, 2 a tag, in no order: sorting the union's rows made PostgreSQL spend more
// than the round trips it saves, so SortByKey orders each run's lists instead.
inline constexpr std::string_view kValuesSql =
    "SELECT 0, run_id, key, '', value, timestamp, step, is_nan FROM latest_metrics "
    "WHERE run_id IN (?) "
    "UNION ALL SELECT 1, run_id, key, value, CAST(0 AS double precision), 0, 0, 0 FROM params "
    "WHERE run_id IN (?) "
    "UNION ALL SELECT 2, run_id, key, value, CAST(0 AS double precision), 0, 0, 0 FROM tags "
    "WHERE run_id IN (?)";

// Orders a run's metrics, params and tags by key as both engines order text (bytewise: SQLite's
// BINARY, PostgreSQL's "C" collation; std::string compares as unsigned char too).
inline void SortByKey(Run& run) {
  auto by_key = [](const auto& a, const auto& b) { return a.key < b.key; };
  std::sort(run.metrics.begin(), run.metrics.end(), by_key);
  std::sort(run.params.begin(), run.params.end(), by_key);
  std::sort(run.tags.begin(), run.tags.end(), by_key);
}

// Reads the runs `ids` (distinct, at most kLoadSlice) into out[0..].info; runs not found keep
// an empty run_id. `index` maps each id to its position.
template <typename Db>
Status LoadInfos(Db& db, std::span<const std::string> ids,
                 const std::map<std::string_view, size_t>& index, std::span<Run> out) {
  static const std::string sql =
      std::string("SELECT ") + kRunInfoColumns + " FROM runs r WHERE r.run_id IN (?)";
  return EachRow(db, sql, ids, index, [&](auto& r, size_t k) { ReadInfo(r, out[k].info); });
}

// Loads the latest metrics, params, tags and inputs of the runs `ids` (distinct, at most
// kLoadSlice) into out[0..]. `index` maps each id to its position.
template <typename Db>
Status LoadDetails(Db& db, std::span<const std::string> ids,
                   const std::map<std::string_view, size_t>& index, std::span<Run> out) {
  RETURN_IF_ERROR(EachRow(
      db, kValuesSql, ids, index,
      [&](auto& r, size_t k) {
        std::string key(r.Text(2));
        switch (r.Int(0)) {
          case 0:
            out[k].metrics.push_back(Metric{std::move(key), r.Int(7) ? std::nan("") : r.Double(4),
                                            r.Int(5), r.Int(6)});
            return;
          case 1:
            out[k].params.push_back(Param{std::move(key), std::string(r.Text(3))});
            return;
          default:
            out[k].tags.push_back(Tag{std::move(key), std::string(r.Text(3))});
        }
      },
      /*kind_first=*/true));
  for (Run& run : out) SortByKey(run);
  // Inputs in Load's order, then their tags by (run, dataset).
  std::vector<std::vector<std::string>> dataset_ids(ids.size());
  RETURN_IF_ERROR(EachRow(
      db,
      "SELECT i.run_id, d.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, "
      "d.profile FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_id IN "
      "(?) ORDER BY i.run_id, d.name, d.digest",
      ids, index, [&](auto& r, size_t k) {
        dataset_ids[k].emplace_back(r.Text(1));
        DatasetInput in;
        in.dataset = Dataset{std::string(r.Text(2)), std::string(r.Text(3)),
                             std::string(r.Text(4)), std::string(r.Text(5)),
                             std::string(r.Text(6)), std::string(r.Text(7))};
        out[k].inputs.push_back(std::move(in));
      }));
  bool any_inputs = std::any_of(dataset_ids.begin(), dataset_ids.end(),
                                [](const auto& d) { return !d.empty(); });
  if (!any_inputs) return Status::Ok();
  return EachRow(db,
                 "SELECT run_id, dataset_id, key, value FROM input_tags WHERE run_id IN (?) "
                 "ORDER BY run_id, key",
                 ids, index, [&](auto& r, size_t k) {
                   const std::vector<std::string>& ds = dataset_ids[k];
                   auto at = std::find(ds.begin(), ds.end(), r.Text(1));
                   if (at == ds.end()) return;
                   out[k].inputs[size_t(at - ds.begin())].tags.push_back(
                       Tag{std::string(r.Text(2)), std::string(r.Text(3))});
                 });
}

// Calls load(ids, index, runs) for each slice of at most kLoadSlice of `runs`, whose ids are
// `run_ids`, then leaves out the runs whose run_id is empty (not found).
template <typename Load>
Result<std::vector<Run>> BySlice(const std::vector<std::string>& run_ids, std::vector<Run> runs,
                                 const Load& load) {
  for (size_t at = 0; at < run_ids.size(); at += kLoadSlice) {
    size_t n = std::min(kLoadSlice, run_ids.size() - at);
    std::span<const std::string> ids = std::span(run_ids).subspan(at, n);
    std::map<std::string_view, size_t> index;
    for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
    RETURN_IF_ERROR(load(ids, index, std::span(runs).subspan(at, n)));
  }
  std::erase_if(runs, [](const Run& r) { return r.info.run_id.empty(); });
  return runs;
}

}  // namespace load_detail

// The runs `run_ids` (distinct) in that order, each as runs::Load reads it; runs that no
// longer exist (deleted for good since they were found) are left out.
template <typename Db>
Result<std::vector<Run>> LoadMany(Db& db, const std::vector<std::string>& run_ids) {
  return load_detail::BySlice(run_ids, std::vector<Run>(run_ids.size()),
                              [&db](auto ids, const auto& index, std::span<Run> out) {
                                RETURN_IF_ERROR(load_detail::LoadInfos(db, ids, index, out));
                                return load_detail::LoadDetails(db, ids, index, out);
                              });
}

// The runs whose RunInfo (of distinct runs) a search has read already, in that order, with
// their latest metrics, params, tags and inputs: a page of results without reading `runs` again.
template <typename Db>
Result<std::vector<Run>> LoadWithInfos(Db& db, std::vector<RunInfo> infos) {
  std::vector<std::string> run_ids;
  std::vector<Run> runs(infos.size());
  run_ids.reserve(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    run_ids.push_back(infos[i].run_id);
    runs[i].info = std::move(infos[i]);
  }
  return load_detail::BySlice(run_ids, std::move(runs),
                              [&db](auto ids, const auto& index, std::span<Run> out) {
                                return load_detail::LoadDetails(db, ids, index, out);
                              });
}

// The run with its latest metrics, params, tags and inputs; kNotFound when there is none.
template <typename Db>
Result<Run> Load(Db& db, const std::string& run_id) {
  ASSIGN_OR_RETURN(std::vector<Run> runs, LoadMany(db, {run_id}));
  if (runs.empty()) return NotFound("Run with id=" + run_id + " not found");
  return std::move(runs.front());
}

}  // namespace ringo::store::runs

#endif  // RINGO_STORE_RUNS_LOAD_SQL_H_
