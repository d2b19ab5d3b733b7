// Run and experiment searches compiled to SQL over the tracking schema every engine shares.
#include "store/search_sql.h"

#include "store/validation.h"

namespace ringo::store {

namespace {

const char* SqlOp(Comparator op) {
  switch (op) {
    case Comparator::kEq:
      return "=";
    case Comparator::kNe:
      return "!=";
    case Comparator::kLt:
      return "<";
    case Comparator::kLe:
      return "<=";
    case Comparator::kGt:
      return ">";
    case Comparator::kGe:
      return ">=";
    default:
      return "=";
  }
}

// Appends a string comparison of `column` for a clause; binds go to `binds`.
void AppendStringComparison(const Clause& c, const std::string& column, const SqlDialect& dialect,
                            std::string* sql, std::vector<SqlValue>* binds) {
  switch (c.op) {
    case Comparator::kLike:
    case Comparator::kILike:
      *sql += dialect.like(column, c.op == Comparator::kILike);
      binds->push_back(c.string_value);
      return;
    case Comparator::kIn:
    case Comparator::kNotIn: {
      *sql += column + (c.op == Comparator::kIn ? " IN (" : " NOT IN (");
      for (size_t i = 0; i < c.values.size(); ++i) {
        *sql += i ? ", ?" : "?";
        binds->push_back(c.values[i]);
      }
      *sql += ")";
      return;
    }
    default:
      *sql += column + " " + SqlOp(c.op) + " ?";
      binds->push_back(c.string_value);
  }
}

std::string RunAttributeColumn(const std::string& key) {
  if (key == "run_name") return "r.name";
  if (key == "run_id") return "r.run_id";
  return "r." + key;  // status, user_id, artifact_uri, lifecycle_stage, start_time, end_time
}

bool Indexed(const Clause& c) {
  return c.entity == Entity::kMetric || c.entity == Entity::kParam || c.entity == Entity::kTag;
}

// "FROM <table> f WHERE <key and value condition>" of a metric, param or tag clause: the rows
// of its (key, value) index it matches.
void AppendIndexedSource(const Clause& c, const SqlDialect& dialect, std::string* sql,
                         std::vector<SqlValue>* binds) {
  binds->push_back(c.key);
  if (c.entity == Entity::kMetric) {
    *sql += "FROM latest_metrics f WHERE f.key = ? AND f.is_nan = 0 AND f.value ";
    *sql += SqlOp(c.op);
    *sql += " ?";
    binds->push_back(c.number_value);
    return;
  }
  *sql += c.entity == Entity::kParam ? "FROM params f WHERE f.key = ? AND "
                                     : "FROM tags f WHERE f.key = ? AND ";
  if (c.op == Comparator::kEq && dialect.value_equals) {
    *sql += dialect.value_equals("f.value", c.string_value, binds);
  } else {
    AppendStringComparison(c, "f.value", dialect, sql, binds);
  }
}

// SQL for one run filter clause (a boolean expression over alias r). A metric, param or tag
// clause that `drives` is an IN-subquery (the engine may then start from its index); otherwise
// it is checked run by run.
void AppendRunClause(const Clause& c, bool drives, const SqlDialect& dialect, std::string* sql,
                     std::vector<SqlValue>* binds) {
  if (Indexed(c)) {
    *sql += drives ? "r.run_id IN (SELECT f.run_id " : "EXISTS (SELECT 1 ";
    AppendIndexedSource(c, dialect, sql, binds);
    *sql += drives ? ")" : " AND f.run_id = r.run_id)";
    return;
  }
  switch (c.entity) {
    case Entity::kAttribute:
      if (c.numeric) {
        *sql += RunAttributeColumn(c.key) + " " + SqlOp(c.op) + " " + dialect.number;
        binds->push_back(c.number_value);
      } else {
        AppendStringComparison(c, RunAttributeColumn(c.key), dialect, sql, binds);
      }
      return;
    case Entity::kMetric:
    case Entity::kParam:
    case Entity::kTag:
      return;  // above
    case Entity::kDataset: {
      *sql +=
          "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id "
          "LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = i.dataset_id "
          "AND t.key = 'mlflow.data.context' WHERE i.run_id = r.run_id AND ";
      std::string column = c.key == "context" ? "t.value" : "d." + c.key;
      AppendStringComparison(c, column, dialect, sql, binds);
      *sql += ")";
      return;
    }
  }
}

// Appends "expr DIR NULLS LAST" for one order key: missing values sort last either way. The
// expression appears once, so its subquery runs once per row.
void AppendRunOrder(const OrderKey& k, const SqlDialect& dialect, std::string* sql,
                    std::vector<SqlValue>* binds) {
  std::string expr;
  switch (k.entity) {
    case Entity::kAttribute:
      expr = RunAttributeColumn(k.key);
      break;
    case Entity::kMetric:
      expr = "(SELECT CASE WHEN " + (dialect.flag ? dialect.flag("m.is_nan") : "m.is_nan") +
             " THEN NULL ELSE m.value END FROM latest_metrics m "
             "WHERE m.run_id = r.run_id AND m.key = ?)";
      break;
    case Entity::kParam:
      expr = "(SELECT p.value FROM params p WHERE p.run_id = r.run_id AND p.key = ?)";
      break;
    case Entity::kTag:
      expr = "(SELECT p.value FROM tags p WHERE p.run_id = r.run_id AND p.key = ?)";
      break;
    case Entity::kDataset:
      expr = "NULL";
      break;
  }
  bool has_bind =
      k.entity == Entity::kMetric || k.entity == Entity::kParam || k.entity == Entity::kTag;
  *sql += expr + (k.ascending ? " ASC NULLS LAST, " : " DESC NULLS LAST, ");
  if (has_bind) binds->push_back(k.key);
}

std::string ViewCondition(ViewType view, const char* column, const SqlDialect& dialect) {
  switch (view) {
    case ViewType::kActiveOnly:
      return std::string(column) + " = 'active'";
    case ViewType::kDeletedOnly:
      return std::string(column) + " = 'deleted'";
    case ViewType::kAll:
      return dialect.always_true;
  }
  return dialect.always_true;
}

// "<experiment> IN (...) AND <the view's stage>": the runs a search looks at.
Status AppendRunsInView(const RunSearch& search, const char* experiment_column,
                        const SqlDialect& dialect, SqlQuery* q) {
  if (search.experiment_ids.empty()) {
    return InvalidArgument("experiment_ids must name at least one experiment");
  }
  q->sql += std::string(experiment_column) + " IN (";
  for (size_t i = 0; i < search.experiment_ids.size(); ++i) {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(search.experiment_ids[i]));
    q->sql += i ? ", ?" : "?";
    q->binds.push_back(id);
  }
  q->sql += ") AND " + ViewCondition(search.view, "r.lifecycle_stage", dialect);
  return Status::Ok();
}

}  // namespace

Result<SqlQuery> CompileRunsProbe(const RunSearch& search, int64_t limit,
                                  const SqlDialect& dialect) {
  SqlQuery q;
  q.sql = "SELECT COUNT(*) FROM (SELECT 1 FROM runs r WHERE ";
  RETURN_IF_ERROR(AppendRunsInView(search, "r.experiment_id", dialect, &q));
  q.sql += " LIMIT ?)";
  q.binds.push_back(limit);
  return q;
}

Result<std::vector<SqlQuery>> CompileClauseProbes(const RunSearch& search, int64_t limit,
                                                  const SqlDialect& dialect) {
  ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseRunFilter(search.filter));
  std::vector<SqlQuery> probes;
  for (const Clause& c : clauses) {
    if (!Indexed(c)) continue;
    SqlQuery& q = probes.emplace_back();
    q.sql = "SELECT COUNT(*) FROM (SELECT 1 ";
    AppendIndexedSource(c, dialect, &q.sql, &q.binds);
    q.sql += " LIMIT ?)";
    q.binds.push_back(limit);
  }
  return probes;
}

Result<SqlQuery> CompileRunSearch(const RunSearch& search, int64_t offset,
                                  const SqlDialect& dialect, std::optional<size_t> driver) {
  RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxSearchResults));
  ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseRunFilter(search.filter));
  std::vector<OrderKey> order;
  for (const std::string& text : search.order_by) {
    ASSIGN_OR_RETURN(OrderKey k, ParseRunOrderBy(text));
    order.push_back(std::move(k));
  }
  SqlQuery q;
  q.sql = std::string("SELECT ") + kRunInfoColumns + " FROM runs r WHERE ";
  // The unary plus keeps the term from any index: the driving clause's runs are looked up.
  bool clause_drives = driver && *driver != kRunsDrive;
  RETURN_IF_ERROR(AppendRunsInView(search, clause_drives ? "+r.experiment_id" : "r.experiment_id",
                                   dialect, &q));
  size_t indexed = 0;  // the position of `c` among the indexed clauses
  for (const Clause& c : clauses) {
    q.sql += " AND ";
    bool drives = !driver || (Indexed(c) && indexed == *driver);
    AppendRunClause(c, drives, dialect, &q.sql, &q.binds);
    if (Indexed(c)) ++indexed;
  }
  q.sql += " ORDER BY ";
  for (const OrderKey& k : order) AppendRunOrder(k, dialect, &q.sql, &q.binds);
  q.sql += "r.start_time DESC, r.run_id ASC LIMIT ? OFFSET ?";
  q.binds.push_back(search.max_results + 1);
  q.binds.push_back(offset);
  return q;
}

Result<SqlQuery> CompileExperimentSearch(const ExperimentSearch& search, int64_t offset,
                                         const SqlDialect& dialect) {
  RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxSearchResults));
  ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseExperimentFilter(search.filter));
  SqlQuery q;
  q.sql = "SELECT e.experiment_id FROM experiments e WHERE " +
          ViewCondition(search.view, "e.lifecycle_stage", dialect);
  for (const Clause& c : clauses) {
    q.sql += " AND ";
    if (c.entity == Entity::kTag) {
      q.sql +=
          "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id "
          "AND t.key = ? AND ";
      q.binds.push_back(c.key);
      AppendStringComparison(c, "t.value", dialect, &q.sql, &q.binds);
      q.sql += ")";
    } else if (c.numeric) {
      q.sql += "e." + c.key + " " + SqlOp(c.op) + " " + dialect.number;
      q.binds.push_back(c.number_value);
    } else {
      AppendStringComparison(c, "e." + c.key, dialect, &q.sql, &q.binds);
    }
  }
  q.sql += " ORDER BY ";
  bool has_id_order = false;
  for (const std::string& text : search.order_by) {
    ASSIGN_OR_RETURN(OrderKey k, ParseExperimentOrderBy(text));
    if (k.key == "experiment_id") has_id_order = true;
    q.sql += "e." + k.key + (k.ascending ? " ASC, " : " DESC, ");
  }
  if (search.order_by.empty()) q.sql += "e.creation_time DESC, ";
  q.sql += has_id_order ? "1" : "e.experiment_id ASC";
  q.sql += " LIMIT ? OFFSET ?";
  q.binds.push_back(search.max_results + 1);
  q.binds.push_back(offset);
  return q;
}

}  // namespace ringo::store
