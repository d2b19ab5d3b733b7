// SQLite implementation of Store: one writer thread with group commit, pooled readers.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include "common/util.h"
#include "store/paging.h"
#include "store/registry_sql.h"
#include "store/run_names.h"
#include "store/schema.h"
#include "store/search_filter.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/validation.h"

namespace ringo::store {

namespace {

constexpr std::string_view kActive = "active";
constexpr std::string_view kDeleted = "deleted";

// A unit of work for the writer thread. `apply` runs inside the shared transaction under its
// own savepoint, so a failing write leaves no trace while its neighbours commit.
struct WriteOp {
  std::function<Status(Db&)> apply;
  std::function<void(Status)> done;
};

using SqlValue = std::variant<std::string, int64_t, double>;

void BindAll(Stmt& stmt, const std::vector<SqlValue>& values) {
  int i = 1;
  for (const SqlValue& v : values) {
    if (auto* s = std::get_if<std::string>(&v)) {
      stmt.Bind(i, *s);
    } else if (auto* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i, *n);
    } else {
      stmt.BindDouble(i, std::get<double>(v));
    }
    ++i;
  }
}

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
void AppendStringComparison(const Clause& c, const std::string& column, std::string* sql,
                            std::vector<SqlValue>* binds) {
  switch (c.op) {
    case Comparator::kLike:
    case Comparator::kILike:
      *sql += "ringo_like(" + column + ", ?, " + (c.op == Comparator::kILike ? "1" : "0") + ")";
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

// SQL for one run filter clause (a boolean expression over alias r).
void AppendRunClause(const Clause& c, std::string* sql, std::vector<SqlValue>* binds) {
  switch (c.entity) {
    case Entity::kAttribute:
      if (c.numeric) {
        *sql += RunAttributeColumn(c.key) + " " + SqlOp(c.op) + " ?";
        binds->push_back(c.number_value);
      } else {
        AppendStringComparison(c, RunAttributeColumn(c.key), sql, binds);
      }
      return;
    // Metric, param and tag clauses are IN-subqueries rather than correlated EXISTS: SQLite
    // can then drive the search from the (key, value) index of the most selective clause.
    case Entity::kMetric:
      *sql +=
          "r.run_id IN (SELECT m.run_id FROM latest_metrics m WHERE m.key = ? AND "
          "m.is_nan = 0 AND m.value ";
      *sql += SqlOp(c.op);
      *sql += " ?)";
      binds->push_back(c.key);
      binds->push_back(c.number_value);
      return;
    case Entity::kParam:
    case Entity::kTag: {
      const char* table = c.entity == Entity::kParam ? "params" : "tags";
      *sql += std::string("r.run_id IN (SELECT p.run_id FROM ") + table + " p WHERE p.key = ? AND ";
      binds->push_back(c.key);
      AppendStringComparison(c, "p.value", sql, binds);
      *sql += ")";
      return;
    }
    case Entity::kDataset: {
      *sql +=
          "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id "
          "LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = i.dataset_id "
          "AND t.key = 'mlflow.data.context' WHERE i.run_id = r.run_id AND ";
      std::string column = c.key == "context" ? "t.value" : "d." + c.key;
      AppendStringComparison(c, column, sql, binds);
      *sql += ")";
      return;
    }
  }
}

// Appends "expr IS NULL, expr DIR" for one order key: missing values sort last either way.
void AppendRunOrder(const OrderKey& k, std::string* sql, std::vector<SqlValue>* binds) {
  std::string expr;
  switch (k.entity) {
    case Entity::kAttribute:
      expr = RunAttributeColumn(k.key);
      break;
    case Entity::kMetric:
      expr =
          "(SELECT CASE WHEN m.is_nan THEN NULL ELSE m.value END FROM latest_metrics m "
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
  *sql += expr + " IS NULL, " + expr + (k.ascending ? " ASC, " : " DESC, ");
  if (has_bind) {
    binds->push_back(k.key);
    binds->push_back(k.key);
  }
}

std::string ViewCondition(ViewType view, const char* column) {
  switch (view) {
    case ViewType::kActiveOnly:
      return std::string(column) + " = 'active'";
    case ViewType::kDeletedOnly:
      return std::string(column) + " = 'deleted'";
    case ViewType::kAll:
      return "1";
  }
  return "1";
}

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<Db> writer)
      : options_(std::move(options)), writer_db_(std::move(writer)) {
    writer_thread_ = std::thread([this] { WriterLoop(); });
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
  ~SqliteStore() override { Shutdown(); }

  // ---------------- experiments ----------------

  void CreateExperiment(std::string name, std::string artifact_location, std::vector<Tag> tags,
                        DoneWith<std::string> done) override {
    if (name.empty()) {
      done(InvalidArgument("experiment name must be a non-empty string"));
      return;
    }
    for (const Tag& t : tags) {
      Status s = ValidateTag(t);
      if (!s.ok()) return done(s);
    }
    auto id = std::make_shared<int64_t>(0);
    Submit(
        [=, this](Db& db) -> Status {
          ASSIGN_OR_RETURN(Stmt * find,
                           db.Prepare("SELECT lifecycle_stage FROM experiments WHERE name = ?"));
          {
            StmtGuard g(*find);
            g->Bind(1, name);
            Status s;
            if (g->Step(&s)) {
              std::string stage(g->Text(0));
              return AlreadyExists("experiment(name=" + name + ") already exists" +
                                   (stage == kDeleted ? " in deleted state" : ""));
            }
            RETURN_IF_ERROR(s);
          }
          ASSIGN_OR_RETURN(
              Stmt * next,
              db.Prepare("SELECT COALESCE(MAX(experiment_id), -1) + 1 FROM experiments"));
          {
            StmtGuard g(*next);
            Status s;
            if (!g->Step(&s)) return s.ok() ? Internal("no next experiment id") : s;
            *id = g->Int(0);
          }
          int64_t now = NowMillis();
          std::string location = artifact_location.empty()
                                     ? "mlflow-artifacts:/" + std::to_string(*id)
                                     : artifact_location;
          ASSIGN_OR_RETURN(Stmt * ins,
                           db.Prepare("INSERT INTO experiments (experiment_id, name, "
                                      "artifact_location, lifecycle_stage, creation_time, "
                                      "last_update_time) VALUES (?, ?, ?, 'active', ?, ?)"));
          {
            StmtGuard g(*ins);
            g->Bind(1, *id).Bind(2, name).Bind(3, location).Bind(4, now).Bind(5, now);
            RETURN_IF_ERROR(g->Exec());
          }
          for (const Tag& t : tags) RETURN_IF_ERROR(UpsertExperimentTag(db, *id, t));
          return Status::Ok();
        },
        [id, done](Status s) {
          if (s.ok()) {
            done(std::to_string(*id));
          } else {
            done(s);
          }
        });
  }

  Result<Experiment> GetExperiment(const std::string& experiment_id) override {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return LoadExperiment(*lease->db, "experiment_id = ?", SqlValue(id),
                          "No Experiment with id=" + experiment_id + " exists");
  }

  Result<Experiment> GetExperimentByName(const std::string& name) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return LoadExperiment(*lease->db, "name = ?", SqlValue(name),
                          "Could not find experiment with name '" + name + "'");
  }

  Result<ExperimentPage> SearchExperiments(const ExperimentSearch& search) override {
    RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxSearchResults));
    ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseExperimentFilter(search.filter));
    ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
    std::string sql = "SELECT e.experiment_id FROM experiments e WHERE " +
                      ViewCondition(search.view, "e.lifecycle_stage");
    std::vector<SqlValue> binds;
    for (const Clause& c : clauses) {
      sql += " AND ";
      if (c.entity == Entity::kTag) {
        sql +=
            "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id "
            "AND t.key = ? AND ";
        binds.push_back(c.key);
        AppendStringComparison(c, "t.value", &sql, &binds);
        sql += ")";
      } else if (c.numeric) {
        sql += "e." + c.key + " " + SqlOp(c.op) + " ?";
        binds.push_back(c.number_value);
      } else {
        AppendStringComparison(c, "e." + c.key, &sql, &binds);
      }
    }
    sql += " ORDER BY ";
    bool has_id_order = false;
    for (const std::string& text : search.order_by) {
      ASSIGN_OR_RETURN(OrderKey k, ParseExperimentOrderBy(text));
      if (k.key == "experiment_id") has_id_order = true;
      sql += "e." + k.key + (k.ascending ? " ASC, " : " DESC, ");
    }
    if (search.order_by.empty()) sql += "e.creation_time DESC, ";
    sql += has_id_order ? "1" : "e.experiment_id ASC";
    sql += " LIMIT ? OFFSET ?";
    binds.push_back(search.max_results + 1);
    binds.push_back(offset);

    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(sql));
    BindAll(*stmt, binds);
    std::vector<int64_t> ids;
    Status s;
    while (stmt->Step(&s)) ids.push_back(stmt->Int(0));
    RETURN_IF_ERROR(s);
    ExperimentPage page;
    if (static_cast<int64_t>(ids.size()) > search.max_results) {
      ids.pop_back();
      page.next_page_token = EncodeOffsetToken(offset + search.max_results);
    }
    for (int64_t id : ids) {
      ASSIGN_OR_RETURN(Experiment e, LoadExperiment(db, "experiment_id = ?", SqlValue(id), "gone"));
      page.experiments.push_back(std::move(e));
    }
    return page;
  }

  void RenameExperiment(std::string experiment_id, std::string new_name, Done done) override {
    if (new_name.empty())
      return done(InvalidArgument("experiment name must be a non-empty string"));
    auto id = ParseExperimentId(experiment_id);
    if (!id.ok()) return done(id.status());
    Submit(
        [=, this](Db& db) -> Status {
          ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
          if (stage != kActive) {
            // MLflow answers INVALID_STATE here, not INVALID_PARAMETER_VALUE.
            return FailedPrecondition("cannot rename a non-active experiment '" + experiment_id +
                                      "'");
          }
          ASSIGN_OR_RETURN(Stmt * find,
                           db.Prepare("SELECT experiment_id FROM experiments WHERE name = ?"));
          {
            StmtGuard g(*find);
            g->Bind(1, new_name);
            Status s;
            if (g->Step(&s) && g->Int(0) != *id) {
              return AlreadyExists("experiment(name=" + new_name + ") already exists");
            }
            RETURN_IF_ERROR(s);
          }
          ASSIGN_OR_RETURN(Stmt * upd, db.Prepare("UPDATE experiments SET name = ?, "
                                                  "last_update_time = ? WHERE experiment_id = ?"));
          StmtGuard g(*upd);
          g->Bind(1, new_name).Bind(2, NowMillis()).Bind(3, *id);
          return g->Exec();
        },
        std::move(done));
  }

  void DeleteExperiment(std::string experiment_id, Done done) override {
    SetExperimentStage(std::move(experiment_id), std::string(kDeleted), std::move(done));
  }

  void RestoreExperiment(std::string experiment_id, Done done) override {
    SetExperimentStage(std::move(experiment_id), std::string(kActive), std::move(done));
  }

  void SetExperimentTag(std::string experiment_id, Tag tag, Done done) override {
    Status v = ValidateTag(tag);
    if (!v.ok()) return done(v);
    auto id = ParseExperimentId(experiment_id);
    if (!id.ok()) return done(id.status());
    Submit(
        [=, this](Db& db) -> Status {
          ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
          if (stage != kActive) {
            return InvalidArgument("the experiment " + experiment_id +
                                   " must be in the 'active' state; it is '" + stage + "'");
          }
          return UpsertExperimentTag(db, *id, tag);
        },
        std::move(done));
  }

  void DeleteExperimentTag(std::string experiment_id, std::string key, Done done) override {
    auto id = ParseExperimentId(experiment_id);
    if (!id.ok()) return done(id.status());
    Submit(
        [=, this](Db& db) -> Status {
          ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
          if (stage != kActive) {
            return InvalidArgument("the experiment " + experiment_id +
                                   " must be in the 'active' state; it is '" + stage + "'");
          }
          ASSIGN_OR_RETURN(Stmt * del, db.Prepare("DELETE FROM experiment_tags WHERE "
                                                  "experiment_id = ? AND key = ?"));
          StmtGuard g(*del);
          g->Bind(1, *id).Bind(2, key);
          RETURN_IF_ERROR(g->Exec());
          if (sqlite3_changes(db.raw()) == 0) {
            return NotFound("no tag with key '" + key + "' on experiment " + experiment_id);
          }
          return Status::Ok();
        },
        std::move(done));
  }

  // ---------------- runs ----------------

  void CreateRun(CreateRunRequest req, DoneWith<Run> done) override {
    for (const Tag& t : req.tags) {
      Status s = ValidateTag(t);
      if (!s.ok()) return done(s);
    }
    if (req.experiment_id.empty()) req.experiment_id = "0";
    auto exp_id = ParseExperimentId(req.experiment_id);
    if (!exp_id.ok()) return done(exp_id.status());
    auto run_id = std::make_shared<std::string>(NewId());
    Submit(
        [=, this](Db& db) mutable -> Status {
          ASSIGN_OR_RETURN(Stmt * find, db.Prepare("SELECT lifecycle_stage, artifact_location "
                                                   "FROM experiments WHERE experiment_id = ?"));
          std::string location;
          {
            StmtGuard g(*find);
            g->Bind(1, *exp_id);
            Status s;
            if (!g->Step(&s)) {
              RETURN_IF_ERROR(s);
              return NotFound("No Experiment with id=" + req.experiment_id + " exists");
            }
            if (g->Text(0) != kActive) {
              return InvalidArgument("the experiment " + req.experiment_id +
                                     " must be in the 'active' state");
            }
            location = std::string(g->Text(1));
          }
          // The run name lives in the run and in the mlflow.runName tag; either may be given.
          std::string name = req.run_name;
          for (const Tag& t : req.tags) {
            if (t.key == "mlflow.runName" && name.empty()) name = t.value;
          }
          if (name.empty()) name = GenerateRunName();
          bool has_name_tag = false;
          for (Tag& t : req.tags) {
            if (t.key == "mlflow.runName") {
              t.value = name;
              has_name_tag = true;
            }
          }
          if (!has_name_tag) req.tags.push_back({"mlflow.runName", name});
          std::string user = req.user_id;
          for (const Tag& t : req.tags) {
            if (t.key == "mlflow.user" && user.empty()) user = t.value;
          }
          while (!location.empty() && location.back() == '/') location.pop_back();
          std::string artifact_uri = location + "/" + *run_id + "/artifacts";
          int64_t start = req.start_time ? req.start_time : NowMillis();
          ASSIGN_OR_RETURN(Stmt * ins,
                           db.Prepare("INSERT INTO runs (run_id, experiment_id, name, user_id, "
                                      "status, start_time, end_time, artifact_uri, "
                                      "lifecycle_stage) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, "
                                      "'active')"));
          {
            StmtGuard g(*ins);
            g->Bind(1, *run_id)
                .Bind(2, *exp_id)
                .Bind(3, name)
                .Bind(4, user)
                .Bind(5, start)
                .Bind(6, artifact_uri);
            RETURN_IF_ERROR(g->Exec());
          }
          for (const Tag& t : req.tags) RETURN_IF_ERROR(UpsertTag(db, *run_id, t));
          return Status::Ok();
        },
        [this, run_id, done](Status s) {
          if (!s.ok()) return done(s);
          // Read back through the writer's view: the commit has happened.
          done(LoadRun(*writer_db_, *run_id));
        });
  }

  Result<Run> GetRun(const std::string& run_id) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return LoadRun(*lease->db, run_id);
  }

  void UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) override {
    if (req.status && !IsRunStatus(*req.status)) {
      return done(InvalidArgument("invalid run status '" + *req.status +
                                  "': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"));
    }
    auto run_id = req.run_id;
    Submit(
        [=, this](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunActive(db, req.run_id));
          if (req.status) {
            ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET status = ? WHERE run_id = ?"));
            StmtGuard g(*u);
            g->Bind(1, *req.status).Bind(2, req.run_id);
            RETURN_IF_ERROR(g->Exec());
          }
          if (req.end_time) {
            ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET end_time = ? WHERE run_id = ?"));
            StmtGuard g(*u);
            g->Bind(1, *req.end_time).Bind(2, req.run_id);
            RETURN_IF_ERROR(g->Exec());
          }
          if (req.run_name && !req.run_name->empty()) {
            RETURN_IF_ERROR(UpsertTag(db, req.run_id, Tag{"mlflow.runName", *req.run_name}));
          }
          return Status::Ok();
        },
        [this, run_id, done](Status s) {
          if (!s.ok()) return done(s);
          auto run = LoadRun(*writer_db_, run_id);
          if (!run.ok()) return done(run.status());
          done(std::move(run->info));
        });
  }

  void DeleteRun(std::string run_id, Done done) override {
    SetRunStage(std::move(run_id), std::string(kDeleted), std::move(done));
  }
  void RestoreRun(std::string run_id, Done done) override {
    SetRunStage(std::move(run_id), std::string(kActive), std::move(done));
  }

  void LogBatch(std::string run_id, Batch batch, Done done) override {
    Status v = ValidateBatch(batch);
    if (!v.ok()) return done(v);
    Submit(
        [this, run_id = std::move(run_id), batch = std::move(batch)](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunActive(db, run_id));
          for (const Param& p : batch.params) RETURN_IF_ERROR(InsertParam(db, run_id, p));
          for (const Metric& m : batch.metrics) RETURN_IF_ERROR(InsertMetric(db, run_id, m));
          for (const Tag& t : batch.tags) RETURN_IF_ERROR(UpsertTag(db, run_id, t));
          return Status::Ok();
        },
        std::move(done));
  }

  void AppendLoggedModel(std::string run_id, std::string model_json, Done done) override {
    Submit(
        [this, run_id = std::move(run_id), model_json = std::move(model_json)](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunActive(db, run_id));
          const std::string key = "mlflow.log-model.history";
          std::string history;
          {
            ASSIGN_OR_RETURN(Stmt * q,
                             db.Prepare("SELECT value FROM tags WHERE run_id = ? AND key = ?"));
            StmtGuard g(*q);
            g->Bind(1, run_id).Bind(2, key);
            Status s;
            if (g->Step(&s)) history = std::string(g->Text(0));
            RETURN_IF_ERROR(s);
          }
          // The history is a JSON list; a value that is not one is replaced rather than extended.
          size_t close = history.find_last_of(']');
          bool is_list = !history.empty() && history.front() == '[' && close != std::string::npos;
          if (!is_list) {
            history = "[" + model_json + "]";
          } else {
            bool empty = history.find_first_not_of(" \t\r\n", 1) == close;
            history = history.substr(0, close) + (empty ? "" : ", ") + model_json + "]";
          }
          return UpsertTag(db, run_id, Tag{key, history});
        },
        std::move(done));
  }

  void DeleteTag(std::string run_id, std::string key, Done done) override {
    Submit(
        [this, run_id = std::move(run_id), key = std::move(key)](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunActive(db, run_id));
          ASSIGN_OR_RETURN(Stmt * del, db.Prepare("DELETE FROM tags WHERE run_id = ? AND key = ?"));
          StmtGuard g(*del);
          g->Bind(1, run_id).Bind(2, key);
          RETURN_IF_ERROR(g->Exec());
          if (sqlite3_changes(db.raw()) == 0) {
            return NotFound("no tag with key '" + key + "' on run '" + run_id + "'");
          }
          return Status::Ok();
        },
        std::move(done));
  }

  void LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) override {
    for (const DatasetInput& in : inputs) {
      if (in.dataset.name.empty() || in.dataset.digest.empty() || in.dataset.source_type.empty() ||
          in.dataset.source.empty()) {
        return done(
            InvalidArgument("each dataset needs a non-empty name, digest, source_type and source"));
      }
      for (const Tag& t : in.tags) {
        Status s = ValidateTag(t);
        if (!s.ok()) return done(s);
      }
    }
    Submit(
        [this, run_id = std::move(run_id), inputs = std::move(inputs)](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunActive(db, run_id));
          int64_t experiment_id = 0;
          {
            ASSIGN_OR_RETURN(Stmt * q,
                             db.Prepare("SELECT experiment_id FROM runs WHERE run_id = ?"));
            StmtGuard g(*q);
            g->Bind(1, run_id);
            Status s;
            if (!g->Step(&s)) return s.ok() ? NotFound("Run with id=" + run_id + " not found") : s;
            experiment_id = g->Int(0);
          }
          for (const DatasetInput& in : inputs) {
            ASSIGN_OR_RETURN(std::string dataset_id, UpsertDataset(db, experiment_id, in.dataset));
            ASSIGN_OR_RETURN(Stmt * link, db.Prepare("INSERT OR IGNORE INTO inputs (run_id, "
                                                     "dataset_id) VALUES (?, ?)"));
            {
              StmtGuard g(*link);
              g->Bind(1, run_id).Bind(2, dataset_id);
              RETURN_IF_ERROR(g->Exec());
            }
            for (const Tag& t : in.tags) {
              ASSIGN_OR_RETURN(Stmt * tag,
                               db.Prepare("INSERT INTO input_tags (run_id, dataset_id, key, value) "
                                          "VALUES (?, ?, ?, ?) ON CONFLICT (run_id, dataset_id, "
                                          "key) DO UPDATE SET value = excluded.value"));
              StmtGuard g(*tag);
              g->Bind(1, run_id).Bind(2, dataset_id).Bind(3, t.key).Bind(4, t.value);
              RETURN_IF_ERROR(g->Exec());
            }
          }
          return Status::Ok();
        },
        std::move(done));
  }

  Result<RunPage> SearchRuns(const RunSearch& search) override {
    RETURN_IF_ERROR(CheckMaxResults(search.max_results, kMaxSearchResults));
    ASSIGN_OR_RETURN(std::vector<Clause> clauses, ParseRunFilter(search.filter));
    std::vector<OrderKey> order;
    for (const std::string& text : search.order_by) {
      ASSIGN_OR_RETURN(OrderKey k, ParseRunOrderBy(text));
      order.push_back(std::move(k));
    }
    ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
    std::vector<SqlValue> binds;
    std::string sql = "SELECT r.run_id FROM runs r WHERE r.experiment_id IN (";
    if (search.experiment_ids.empty()) {
      return InvalidArgument("experiment_ids must name at least one experiment");
    }
    for (size_t i = 0; i < search.experiment_ids.size(); ++i) {
      ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(search.experiment_ids[i]));
      sql += i ? ", ?" : "?";
      binds.push_back(id);
    }
    sql += ") AND " + ViewCondition(search.view, "r.lifecycle_stage");
    for (const Clause& c : clauses) {
      sql += " AND ";
      AppendRunClause(c, &sql, &binds);
    }
    sql += " ORDER BY ";
    for (const OrderKey& k : order) AppendRunOrder(k, &sql, &binds);
    sql += "r.start_time DESC, r.run_id ASC LIMIT ? OFFSET ?";
    binds.push_back(search.max_results + 1);
    binds.push_back(offset);

    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(sql));
    BindAll(*stmt, binds);
    std::vector<std::string> ids;
    Status s;
    while (stmt->Step(&s)) ids.emplace_back(stmt->Text(0));
    RETURN_IF_ERROR(s);
    stmt.reset();
    RunPage page;
    if (static_cast<int64_t>(ids.size()) > search.max_results) {
      ids.pop_back();
      page.next_page_token = EncodeOffsetToken(offset + search.max_results);
    }
    page.runs.reserve(ids.size());
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(Run run, LoadRun(db, id));
      page.runs.push_back(std::move(run));
    }
    return page;
  }

  Result<MetricPage> GetMetricHistory(const std::string& run_id, const std::string& key,
                                      int64_t max_results, const std::string& page_token) override {
    MetricPage page;
    ASSIGN_OR_RETURN(
        page.next_page_token,
        VisitMetricHistory(run_id, key, max_results, page_token,
                           [&](double value, int64_t timestamp, int64_t step) {
                             page.metrics.push_back(Metric{key, value, timestamp, step});
                           }));
    return page;
  }

  Result<std::string> VisitMetricHistory(const std::string& run_id, const std::string& key,
                                         int64_t max_results, const std::string& page_token,
                                         const PointVisitor& visit) override {
    ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(page_token));
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    RETURN_IF_ERROR(CheckRunExists(db, run_id));
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                          "WHERE run_id = ? AND key = ? ORDER BY step, timestamp "
                                          "LIMIT ? OFFSET ?"));
    StmtGuard g(*q);
    // One row beyond the page tells whether another page follows.
    int64_t limit = max_results > 0 ? max_results + 1 : -1;
    g->Bind(1, run_id).Bind(2, key).Bind(3, limit).Bind(4, offset);
    int64_t rows = 0;
    Status s;
    while (g->Step(&s)) {
      if (max_results > 0 && rows == max_results) return EncodeOffsetToken(offset + max_results);
      ++rows;
      visit(g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0));
    }
    RETURN_IF_ERROR(s);
    return std::string();
  }

  Result<std::vector<RunMetric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, const std::string& key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step,
      int64_t max_results) override {
    if (max_results <= 0) return InvalidArgument("max_results must be positive");
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                          "WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? "
                                          "ORDER BY step, timestamp"));
    std::vector<RunMetric> out;
    for (const std::string& run_id : run_ids) {
      RETURN_IF_ERROR(CheckRunExists(db, run_id));
      std::vector<Metric> points;
      {
        StmtGuard g(*q);
        g->Bind(1, run_id)
            .Bind(2, key)
            .Bind(3, start_step.value_or(INT64_MIN))
            .Bind(4, end_step.value_or(INT64_MAX));
        Status s;
        while (g->Step(&s)) {
          points.push_back(
              Metric{key, g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0)});
        }
        RETURN_IF_ERROR(s);
      }
      // Sample distinct steps evenly, always keeping the first and the last.
      std::vector<int64_t> steps;
      for (const Metric& m : points) {
        if (steps.empty() || steps.back() != m.step) steps.push_back(m.step);
      }
      std::vector<int64_t> keep;
      if (static_cast<int64_t>(steps.size()) <= max_results) {
        keep = steps;
      } else if (max_results == 1) {
        keep = {steps.front()};
      } else {
        for (int64_t i = 0; i < max_results; ++i) {
          size_t idx = static_cast<size_t>(i * int64_t(steps.size() - 1) / (max_results - 1));
          if (keep.empty() || keep.back() != steps[idx]) keep.push_back(steps[idx]);
        }
      }
      size_t k = 0;
      for (const Metric& m : points) {
        while (k < keep.size() && keep[k] < m.step) ++k;
        if (k < keep.size() && keep[k] == m.step) out.push_back(RunMetric{run_id, m});
      }
    }
    return out;
  }

  Result<std::vector<DatasetSummary>> SearchDatasets(
      const std::vector<std::string>& experiment_ids) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    ASSIGN_OR_RETURN(Stmt * q,
                     db.Prepare("SELECT DISTINCT d.name, d.digest, COALESCE(t.value, '') FROM "
                                "datasets d JOIN inputs i ON i.dataset_id = d.dataset_id LEFT "
                                "JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = "
                                "i.dataset_id AND t.key = 'mlflow.data.context' WHERE "
                                "d.experiment_id = ? ORDER BY d.name, d.digest LIMIT 1000"));
    std::vector<DatasetSummary> out;
    for (const std::string& id_text : experiment_ids) {
      ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(id_text));
      StmtGuard g(*q);
      g->Bind(1, id);
      Status s;
      while (g->Step(&s)) {
        out.push_back(DatasetSummary{id_text, std::string(g->Text(0)), std::string(g->Text(1)),
                                     std::string(g->Text(2))});
      }
      RETURN_IF_ERROR(s);
    }
    return out;
  }

  // ---------------- model registry ----------------

  template <typename T>
  void SubmitThenLoad(std::function<Status(Db&)> apply, std::function<Result<T>(Db&)> load,
                      DoneWith<T> done) {
    Submit(std::move(apply), [this, load = std::move(load), done = std::move(done)](Status s) {
      if (!s.ok()) return done(s);
      // Read back through the writer's connection: the commit has happened.
      done(load(*writer_db_));
    });
  }

  void CreateRegisteredModel(std::string name, std::string description, std::vector<Tag> tags,
                             DoneWith<RegisteredModel> done) override {
    SubmitThenLoad<RegisteredModel>(
        [=](Db& db) { return registry::InsertModel(db, name, description, tags); },
        [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
  }

  Result<RegisteredModel> GetRegisteredModel(const std::string& name) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return registry::LoadModel(*lease->db, name);
  }

  void RenameRegisteredModel(std::string name, std::string new_name,
                             DoneWith<RegisteredModel> done) override {
    SubmitThenLoad<RegisteredModel>(
        [=](Db& db) { return registry::RenameModel(db, name, new_name); },
        [=](Db& db) { return registry::LoadModel(db, new_name); }, std::move(done));
  }

  void UpdateRegisteredModel(std::string name, std::string description,
                             DoneWith<RegisteredModel> done) override {
    SubmitThenLoad<RegisteredModel>(
        [=](Db& db) { return registry::UpdateModel(db, name, description); },
        [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
  }

  void DeleteRegisteredModel(std::string name, Done done) override {
    Submit([=](Db& db) { return registry::DeleteModel(db, name); }, std::move(done));
  }

  Result<RegisteredModelPage> SearchRegisteredModels(const RegistrySearch& search) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return registry::SearchModels(*lease->db, search);
  }

  void SetRegisteredModelTag(std::string name, Tag tag, Done done) override {
    Submit([=](Db& db) { return registry::SetModelTag(db, name, tag); }, std::move(done));
  }

  void DeleteRegisteredModelTag(std::string name, std::string key, Done done) override {
    Submit([=](Db& db) { return registry::DeleteModelTag(db, name, key); }, std::move(done));
  }

  void SetRegisteredModelAlias(std::string name, std::string alias, int64_t version,
                               Done done) override {
    Submit([=](Db& db) { return registry::SetAlias(db, name, alias, version); }, std::move(done));
  }

  void DeleteRegisteredModelAlias(std::string name, std::string alias, Done done) override {
    Submit([=](Db& db) { return registry::DeleteAlias(db, name, alias); }, std::move(done));
  }

  void CreateModelVersion(ModelVersion version, DoneWith<ModelVersion> done) override {
    auto number = std::make_shared<int64_t>(0);
    SubmitThenLoad<ModelVersion>(
        [=](Db& db) -> Status {
          ASSIGN_OR_RETURN(*number, registry::InsertVersion(db, version));
          return Status::Ok();
        },
        [=](Db& db) { return registry::LoadVersion(db, version.name, *number); }, std::move(done));
  }

  Result<ModelVersion> GetModelVersion(const std::string& name, int64_t version) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return registry::LoadVersion(*lease->db, name, version);
  }

  Result<ModelVersion> GetModelVersionByAlias(const std::string& name,
                                              const std::string& alias) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    ASSIGN_OR_RETURN(int64_t v, registry::AliasVersion(*lease->db, name, alias));
    return registry::LoadVersion(*lease->db, name, v);
  }

  void UpdateModelVersion(std::string name, int64_t version, std::string description,
                          DoneWith<ModelVersion> done) override {
    SubmitThenLoad<ModelVersion>(
        [=](Db& db) { return registry::UpdateVersion(db, name, version, description); },
        [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
  }

  void TransitionModelVersionStage(std::string name, int64_t version, std::string stage,
                                   bool archive_existing, DoneWith<ModelVersion> done) override {
    SubmitThenLoad<ModelVersion>(
        [=](Db& db) {
          return registry::TransitionStage(db, name, version, stage, archive_existing);
        },
        [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
  }

  void DeleteModelVersion(std::string name, int64_t version, Done done) override {
    Submit([=](Db& db) { return registry::DeleteVersion(db, name, version); }, std::move(done));
  }

  Result<ModelVersionPage> SearchModelVersions(const RegistrySearch& search) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    return registry::SearchVersions(*lease->db, search);
  }

  void SetModelVersionTag(std::string name, int64_t version, Tag tag, Done done) override {
    Submit([=](Db& db) { return registry::SetVersionTag(db, name, version, tag); },
           std::move(done));
  }

  void DeleteModelVersionTag(std::string name, int64_t version, std::string key,
                             Done done) override {
    Submit([=](Db& db) { return registry::DeleteVersionTag(db, name, version, key); },
           std::move(done));
  }

  // ---------------- documents and events ----------------

  static Status AppendEventTx(Db& db, const std::string& kind, const std::string& key,
                              const std::string& value) {
    int64_t seq = 1;
    {
      ASSIGN_OR_RETURN(
          Stmt * q,
          db.Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE kind = ? AND key = ?"));
      StmtGuard g(*q);
      g->Bind(1, kind).Bind(2, key);
      Status s;
      if (g->Step(&s)) seq = g->Int(0);
      RETURN_IF_ERROR(s);
    }
    ASSIGN_OR_RETURN(
        Stmt * q,
        db.Prepare("INSERT INTO events (kind, key, seq, time, value) VALUES (?, ?, ?, ?, ?)"));
    StmtGuard g(*q);
    g->Bind(1, kind).Bind(2, key).Bind(3, seq).Bind(4, NowMillis()).Bind(5, value);
    return g->Exec();
  }

  void PutDocument(std::string kind, std::string key, std::string value, int64_t expected_revision,
                   std::string event, DoneWith<int64_t> done) override {
    auto revision = std::make_shared<int64_t>(0);
    Submit(
        [=](Db& db) -> Status {
          int64_t current = 0;
          {
            ASSIGN_OR_RETURN(
                Stmt * q, db.Prepare("SELECT revision FROM documents WHERE kind = ? AND key = ?"));
            StmtGuard g(*q);
            g->Bind(1, kind).Bind(2, key);
            Status s;
            if (g->Step(&s)) current = g->Int(0);
            RETURN_IF_ERROR(s);
          }
          if (expected_revision >= 0 && current != expected_revision) {
            return FailedPrecondition(kind + " '" + key + "' was changed concurrently (revision " +
                                      std::to_string(current) + ", expected " +
                                      std::to_string(expected_revision) + ")");
          }
          *revision = current + 1;
          ASSIGN_OR_RETURN(
              Stmt * q,
              db.Prepare("INSERT INTO documents (kind, key, value, revision, updated_time) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                         "value = excluded.value, revision = excluded.revision, "
                         "updated_time = excluded.updated_time"));
          {
            StmtGuard g(*q);
            g->Bind(1, kind).Bind(2, key).Bind(3, value).Bind(4, *revision).Bind(5, NowMillis());
            RETURN_IF_ERROR(g->Exec());
          }
          if (!event.empty()) RETURN_IF_ERROR(AppendEventTx(db, kind, key, event));
          return Status::Ok();
        },
        [revision, done](Status s) {
          if (!s.ok()) return done(s);
          done(*revision);
        });
  }

  Result<Document> GetDocument(const std::string& kind, const std::string& key) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    ASSIGN_OR_RETURN(
        Stmt * q,
        lease->db->Prepare(
            "SELECT value, revision, updated_time FROM documents WHERE kind = ? AND key = ?"));
    StmtGuard g(*q);
    g->Bind(1, kind).Bind(2, key);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound(kind + " '" + key + "' not found");
    }
    return Document{kind, key, std::string(g->Text(0)), g->Int(1), g->Int(2)};
  }

  Result<std::vector<Document>> ListDocuments(const std::string& kind,
                                              const std::string& prefix) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    ASSIGN_OR_RETURN(Stmt * q, lease->db->Prepare(
                                   "SELECT key, value, revision, updated_time FROM documents WHERE "
                                   "kind = ? AND substr(key, 1, ?) = ? ORDER BY key"));
    StmtGuard g(*q);
    g->Bind(1, kind).Bind(2, static_cast<int64_t>(prefix.size())).Bind(3, prefix);
    std::vector<Document> out;
    Status s;
    while (g->Step(&s))
      out.push_back(
          Document{kind, std::string(g->Text(0)), std::string(g->Text(1)), g->Int(2), g->Int(3)});
    RETURN_IF_ERROR(s);
    return out;
  }

  void AppendEvent(std::string kind, std::string key, std::string value, Done done) override {
    Submit([=](Db& db) { return AppendEventTx(db, kind, key, value); }, std::move(done));
  }

  Result<std::vector<Event>> ListEvents(const std::string& kind, const std::string& key,
                                        int64_t after_seq, int64_t limit) override {
    auto lease = AcquireReader();
    if (!lease.ok()) return lease.status();
    ASSIGN_OR_RETURN(Stmt * q, lease->db->Prepare(
                                   "SELECT seq, time, value FROM events WHERE kind = ? AND key = ? "
                                   "AND seq > ? ORDER BY seq LIMIT ?"));
    StmtGuard g(*q);
    g->Bind(1, kind).Bind(2, key).Bind(3, after_seq).Bind(4, limit);
    std::vector<Event> out;
    Status s;
    while (g->Step(&s)) out.push_back(Event{g->Int(0), g->Int(1), std::string(g->Text(2))});
    RETURN_IF_ERROR(s);
    return out;
  }

  StoreStats Stats() override {
    StoreStats st;
    st.write_queue_depth = queue_depth_.load();
    st.commits = commits_.load();
    st.writes_committed = writes_committed_.load();
    st.writes_failed = writes_failed_.load();
    return st;
  }

  void Shutdown() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard join_lock(join_mu_);
    if (writer_thread_.joinable()) writer_thread_.join();
    writer_done_.store(true);
    { std::lock_guard checkpoint_lock(checkpoint_mu_); }
    checkpoint_cv_.notify_all();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  }

 private:
  struct ReaderLease {
    SqliteStore* store;
    std::unique_ptr<Db> db;
    ReaderLease(SqliteStore* s, std::unique_ptr<Db> d) : store(s), db(std::move(d)) {}
    ReaderLease(ReaderLease&& o) noexcept : store(o.store), db(std::move(o.db)) {}
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease() {
      if (db) {
        std::lock_guard lock(store->readers_mu_);
        store->readers_.push_back(std::move(db));
      }
    }
  };

  Result<ReaderLease> AcquireReader() {
    {
      std::lock_guard lock(readers_mu_);
      if (!readers_.empty()) {
        std::unique_ptr<Db> db = std::move(readers_.back());
        readers_.pop_back();
        return ReaderLease(this, std::move(db));
      }
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(options_.path, false));
    RETURN_IF_ERROR(
        db->ExecScript("PRAGMA query_only = ON; PRAGMA cache_size = -32000; "
                       "PRAGMA mmap_size = 268435456"));
    return ReaderLease(this, std::move(db));
  }

  void Submit(std::function<Status(Db&)> apply, std::function<void(Status)> done) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(WriteOp{std::move(apply), std::move(done)});
        queue_depth_.store(static_cast<int64_t>(queue_.size()));
        cv_.notify_one();
        return;
      }
    }
    done(Unavailable("the store is shutting down"));
  }

  void WriterLoop() {
    // SCHED_BATCH: a wake-up of the writer does not preempt the threads submitting work. On a
    // busy core the writer then runs once the I/O thread has queued what it has read, so one
    // commit carries many writes instead of one each.
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
    Db& db = *writer_db_;
    std::vector<WriteOp> batch;
    std::vector<Status> results;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
        if (queue_.empty() && stopping_) break;
        batch.clear();
        if (queue_.size() <= options_.max_ops_per_commit) {
          // Swap rather than move element by element: the submitting threads wait on this lock.
          batch.swap(queue_);
        } else {
          auto end = queue_.begin() + static_cast<ptrdiff_t>(options_.max_ops_per_commit);
          std::move(queue_.begin(), end, std::back_inserter(batch));
          queue_.erase(queue_.begin(), end);
        }
        queue_depth_.store(static_cast<int64_t>(queue_.size()));
      }
      results.assign(batch.size(), Status::Ok());
      Status begin = db.ExecScript("BEGIN IMMEDIATE");
      if (!begin.ok()) {
        for (auto& r : results) r = begin;
      } else {
        for (size_t i = 0; i < batch.size(); ++i) {
          results[i] = ApplyWithSavepoint(db, batch[i]);
        }
        Status commit = db.ExecScript("COMMIT");
        if (!commit.ok()) {
          (void)db.ExecScript("ROLLBACK");
          for (auto& r : results) {
            if (r.ok()) r = commit;
          }
        } else {
          commits_.fetch_add(1);
        }
      }
      MaybeAnalyze(db, batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        if (results[i].ok()) {
          writes_committed_.fetch_add(1);
        } else {
          writes_failed_.fetch_add(1);
        }
        batch[i].done(std::move(results[i]));
      }
      batch.clear();
    }
  }

  // Copies committed pages from the WAL into the database file in the background, shortly after
  // writes stop or every second under load. Readers of a short WAL go straight to the database
  // file (a 100k-point history reads ~25% faster), and the writer never pauses for checkpoints
  // (its own auto-checkpoint stays as a backstop). Passive: never blocks readers or the writer.
  void CheckpointLoop() {
    auto db = Db::Open(options_.path, false);
    if (!db.ok()) {
      std::fprintf(stderr, "ringo: store: checkpointer disabled: %s\n",
                   db.status().message().c_str());
      return;
    }
    int64_t seen = commits_.load();
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(250));
      bool stopping = writer_done_.load();
      int64_t now = commits_.load();
      if (now != seen) {
        seen = now;
        lock.unlock();
        sqlite3_wal_checkpoint_v2((*db)->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
        lock.lock();
      }
      if (stopping) break;
    }
    // Leave a short WAL behind for the next start.
    sqlite3_wal_checkpoint_v2((*db)->raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }

  // Keeps the planner's statistics current so searches pick the selective index. With
  // analysis_limit, ANALYZE samples a few hundred rows per index: milliseconds, not a scan.
  void MaybeAnalyze(Db& db, size_t writes) {
    writes_since_analyze_ += writes;
    auto now = std::chrono::steady_clock::now();
    if (writes_since_analyze_ < 5000 || now - last_analyze_ < std::chrono::seconds(30)) return;
    writes_since_analyze_ = 0;
    last_analyze_ = now;
    Status s = db.ExecScript("PRAGMA analysis_limit = 400; ANALYZE;");
    if (!s.ok()) std::fprintf(stderr, "ringo: store: ANALYZE failed: %s\n", s.message().c_str());
  }

  static Status ApplyWithSavepoint(Db& db, WriteOp& op) {
    auto sp = db.Prepare("SAVEPOINT op");
    auto rel = db.Prepare("RELEASE op");
    auto rb = db.Prepare("ROLLBACK TO op");
    if (!sp.ok()) return sp.status();
    if (!rel.ok()) return rel.status();
    if (!rb.ok()) return rb.status();
    {
      StmtGuard g(**sp);
      RETURN_IF_ERROR(g->Exec());
    }
    Status s = op.apply(db);
    if (!s.ok()) {
      StmtGuard g(**rb);
      (void)g->Exec();
    }
    StmtGuard g(**rel);
    Status r = g->Exec();
    return s.ok() ? r : s;
  }

  // ---- helpers running on the writer or a reader connection ----

  Result<std::string> ExperimentStage(Db& db, int64_t id) {
    ASSIGN_OR_RETURN(Stmt * q,
                     db.Prepare("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?"));
    StmtGuard g(*q);
    g->Bind(1, id);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("No Experiment with id=" + std::to_string(id) + " exists");
    }
    return std::string(g->Text(0));
  }

  void SetExperimentStage(std::string experiment_id, std::string stage, Done done) {
    auto id = ParseExperimentId(experiment_id);
    if (!id.ok()) return done(id.status());
    Submit(
        [=, this](Db& db) -> Status {
          ASSIGN_OR_RETURN(std::string current, ExperimentStage(db, *id));
          if (stage == kDeleted && *id == 0) {
            return InvalidArgument("the default experiment (id 0) cannot be deleted");
          }
          (void)current;
          int64_t now = NowMillis();
          ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE experiments SET lifecycle_stage = ?, "
                                                "last_update_time = ? WHERE experiment_id = ?"));
          {
            StmtGuard g(*u);
            g->Bind(1, stage).Bind(2, now).Bind(3, *id);
            RETURN_IF_ERROR(g->Exec());
          }
          // As MLflow does, deleting an experiment deletes its runs and restoring restores them.
          ASSIGN_OR_RETURN(Stmt * r, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time "
                                                "= CASE WHEN ? = 'deleted' THEN ? ELSE NULL END "
                                                "WHERE experiment_id = ?"));
          StmtGuard g(*r);
          g->Bind(1, stage).Bind(2, stage).Bind(3, now).Bind(4, *id);
          return g->Exec();
        },
        std::move(done));
  }

  Status UpsertExperimentTag(Db& db, int64_t id, const Tag& t) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) "
                                          "VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO "
                                          "UPDATE SET value = excluded.value"));
    StmtGuard g(*q);
    g->Bind(1, id).Bind(2, t.key).Bind(3, t.value);
    return g->Exec();
  }

  Result<Experiment> LoadExperiment(Db& db, const char* where, const SqlValue& key,
                                    const std::string& not_found) {
    std::string sql = std::string(
                          "SELECT experiment_id, name, artifact_location, "
                          "lifecycle_stage, creation_time, last_update_time FROM "
                          "experiments WHERE ") +
                      where;
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare(sql));
    Experiment e;
    {
      StmtGuard g(*q);
      BindAll(*g, {key});
      Status s;
      if (!g->Step(&s)) {
        RETURN_IF_ERROR(s);
        return NotFound(not_found);
      }
      e.experiment_id = std::to_string(g->Int(0));
      e.name = g->Text(1);
      e.artifact_location = g->Text(2);
      e.lifecycle_stage = g->Text(3);
      e.creation_time = g->Int(4);
      e.last_update_time = g->Int(5);
    }
    ASSIGN_OR_RETURN(Stmt * t, db.Prepare("SELECT key, value FROM experiment_tags WHERE "
                                          "experiment_id = ? ORDER BY key"));
    StmtGuard g(*t);
    g->Bind(1, *ParseInt64(e.experiment_id));
    Status s;
    while (g->Step(&s)) e.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
    RETURN_IF_ERROR(s);
    return e;
  }

  Status CheckRunExists(Db& db, const std::string& run_id) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT 1 FROM runs WHERE run_id = ?"));
    StmtGuard g(*q);
    g->Bind(1, run_id);
    Status s;
    if (g->Step(&s)) return Status::Ok();
    RETURN_IF_ERROR(s);
    return NotFound("Run with id=" + run_id + " not found");
  }

  Status CheckRunActive(Db& db, const std::string& run_id) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT lifecycle_stage FROM runs WHERE run_id = ?"));
    StmtGuard g(*q);
    g->Bind(1, run_id);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("Run with id=" + run_id + " not found");
    }
    if (g->Text(0) != kActive) {
      return InvalidArgument("the run " + run_id + " must be in the 'active' state; it is '" +
                             std::string(g->Text(0)) + "'");
    }
    return Status::Ok();
  }

  void SetRunStage(std::string run_id, std::string stage, Done done) {
    Submit(
        [=, this](Db& db) -> Status {
          RETURN_IF_ERROR(CheckRunExists(db, run_id));
          ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time "
                                                "= ? WHERE run_id = ?"));
          StmtGuard g(*u);
          g->Bind(1, stage).Bind(3, run_id);
          if (stage == kDeleted) {
            g->Bind(2, NowMillis());
          } else {
            g->BindNull(2);
          }
          return g->Exec();
        },
        std::move(done));
  }

  Status InsertParam(Db& db, const std::string& run_id, const Param& p) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT value FROM params WHERE run_id = ? AND key = ?"));
    {
      StmtGuard g(*q);
      g->Bind(1, run_id).Bind(2, p.key);
      Status s;
      if (g->Step(&s)) {
        if (g->Text(0) == p.value) return Status::Ok();
        return InvalidArgument("param '" + p.key + "' of run '" + run_id + "' was logged as '" +
                               std::string(g->Text(0)) + "' and cannot be changed to '" + p.value +
                               "': params are immutable");
      }
      RETURN_IF_ERROR(s);
    }
    ASSIGN_OR_RETURN(Stmt * ins,
                     db.Prepare("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)"));
    StmtGuard g(*ins);
    g->Bind(1, run_id).Bind(2, p.key).Bind(3, p.value);
    return g->Exec();
  }

  Status InsertMetric(Db& db, const std::string& run_id, const Metric& m) {
    bool is_nan = std::isnan(m.value);
    double value = is_nan ? 0.0 : m.value;
    ASSIGN_OR_RETURN(Stmt * ins, db.Prepare("INSERT OR IGNORE INTO metrics (run_id, key, step, "
                                            "timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)"));
    {
      StmtGuard g(*ins);
      g->Bind(1, run_id)
          .Bind(2, m.key)
          .Bind(3, m.step)
          .Bind(4, m.timestamp)
          .BindDouble(5, value)
          .Bind(6, int64_t{is_nan});
      RETURN_IF_ERROR(g->Exec());
    }
    // The latest value is the one at the highest step, then timestamp, then value.
    ASSIGN_OR_RETURN(Stmt * up,
                     db.Prepare("INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
                                "is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO "
                                "UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
                                "value = excluded.value, is_nan = excluded.is_nan WHERE "
                                "(excluded.step, excluded.timestamp, excluded.value) > (step, "
                                "timestamp, value)"));
    StmtGuard g(*up);
    g->Bind(1, run_id)
        .Bind(2, m.key)
        .Bind(3, m.step)
        .Bind(4, m.timestamp)
        .BindDouble(5, value)
        .Bind(6, int64_t{is_nan});
    return g->Exec();
  }

  Status UpsertTag(Db& db, const std::string& run_id, const Tag& t) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                                          "ON CONFLICT (run_id, key) DO UPDATE SET value = "
                                          "excluded.value"));
    {
      StmtGuard g(*q);
      g->Bind(1, run_id).Bind(2, t.key).Bind(3, t.value);
      RETURN_IF_ERROR(g->Exec());
    }
    if (t.key == "mlflow.runName") {
      ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET name = ? WHERE run_id = ?"));
      StmtGuard g(*u);
      g->Bind(1, t.value).Bind(2, run_id);
      RETURN_IF_ERROR(g->Exec());
    }
    return Status::Ok();
  }

  Result<std::string> UpsertDataset(Db& db, int64_t experiment_id, const Dataset& d) {
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT dataset_id FROM datasets WHERE experiment_id = ? "
                                          "AND name = ? AND digest = ?"));
    {
      StmtGuard g(*q);
      g->Bind(1, experiment_id).Bind(2, d.name).Bind(3, d.digest);
      Status s;
      if (g->Step(&s)) return std::string(g->Text(0));
      RETURN_IF_ERROR(s);
    }
    std::string id = NewId();
    ASSIGN_OR_RETURN(Stmt * ins,
                     db.Prepare("INSERT INTO datasets (dataset_id, experiment_id, name, digest, "
                                "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, "
                                "?, ?)"));
    StmtGuard g(*ins);
    g->Bind(1, id)
        .Bind(2, experiment_id)
        .Bind(3, d.name)
        .Bind(4, d.digest)
        .Bind(5, d.source_type)
        .Bind(6, d.source)
        .Bind(7, d.schema)
        .Bind(8, d.profile);
    RETURN_IF_ERROR(g->Exec());
    return id;
  }

  Result<Run> LoadRun(Db& db, const std::string& run_id) {
    Run run;
    ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT experiment_id, name, user_id, status, "
                                          "start_time, end_time, artifact_uri, lifecycle_stage "
                                          "FROM runs WHERE run_id = ?"));
    {
      StmtGuard g(*q);
      g->Bind(1, run_id);
      Status s;
      if (!g->Step(&s)) {
        RETURN_IF_ERROR(s);
        return NotFound("Run with id=" + run_id + " not found");
      }
      RunInfo& i = run.info;
      i.run_id = run_id;
      i.experiment_id = std::to_string(g->Int(0));
      i.run_name = g->Text(1);
      i.user_id = g->Text(2);
      i.status = g->Text(3);
      i.start_time = g->Int(4);
      if (!g->IsNull(5)) i.end_time = g->Int(5);
      i.artifact_uri = g->Text(6);
      i.lifecycle_stage = g->Text(7);
    }
    Status s;
    {
      ASSIGN_OR_RETURN(Stmt * m, db.Prepare("SELECT key, value, timestamp, step, is_nan FROM "
                                            "latest_metrics WHERE run_id = ? ORDER BY key"));
      StmtGuard g(*m);
      g->Bind(1, run_id);
      while (g->Step(&s)) {
        run.metrics.push_back(Metric{std::string(g->Text(0)),
                                     g->Int(4) ? std::nan("") : g->Double(1), g->Int(2),
                                     g->Int(3)});
      }
      RETURN_IF_ERROR(s);
    }
    {
      ASSIGN_OR_RETURN(Stmt * p,
                       db.Prepare("SELECT key, value FROM params WHERE run_id = ? ORDER BY key"));
      StmtGuard g(*p);
      g->Bind(1, run_id);
      while (g->Step(&s))
        run.params.push_back(Param{std::string(g->Text(0)), std::string(g->Text(1))});
      RETURN_IF_ERROR(s);
    }
    {
      ASSIGN_OR_RETURN(Stmt * t,
                       db.Prepare("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key"));
      StmtGuard g(*t);
      g->Bind(1, run_id);
      while (g->Step(&s)) run.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
      RETURN_IF_ERROR(s);
    }
    {
      ASSIGN_OR_RETURN(Stmt * d,
                       db.Prepare("SELECT d.dataset_id, d.name, d.digest, d.source_type, d.source, "
                                  "d.schema, d.profile FROM inputs i JOIN datasets d ON "
                                  "d.dataset_id = i.dataset_id WHERE i.run_id = ? ORDER BY d.name, "
                                  "d.digest"));
      std::vector<std::string> dataset_ids;
      {
        StmtGuard g(*d);
        g->Bind(1, run_id);
        while (g->Step(&s)) {
          dataset_ids.emplace_back(g->Text(0));
          DatasetInput in;
          in.dataset =
              Dataset{std::string(g->Text(1)), std::string(g->Text(2)), std::string(g->Text(3)),
                      std::string(g->Text(4)), std::string(g->Text(5)), std::string(g->Text(6))};
          run.inputs.push_back(std::move(in));
        }
        RETURN_IF_ERROR(s);
      }
      if (!dataset_ids.empty()) {
        ASSIGN_OR_RETURN(Stmt * it, db.Prepare("SELECT key, value FROM input_tags WHERE run_id = ? "
                                               "AND dataset_id = ? ORDER BY key"));
        for (size_t k = 0; k < dataset_ids.size(); ++k) {
          StmtGuard g(*it);
          g->Bind(1, run_id).Bind(2, dataset_ids[k]);
          while (g->Step(&s)) {
            run.inputs[k].tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
          }
          RETURN_IF_ERROR(s);
        }
      }
    }
    return run;
  }

  SqliteOptions options_;
  std::unique_ptr<Db> writer_db_;
  std::thread writer_thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::mutex mu_;
  std::mutex join_mu_;
  std::condition_variable cv_;
  std::vector<WriteOp> queue_;
  bool stopping_ = false;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Db>> readers_;

  size_t writes_since_analyze_ = 0;
  std::chrono::steady_clock::time_point last_analyze_ = std::chrono::steady_clock::now();

  std::atomic<bool> writer_done_{false};
  std::atomic<int64_t> queue_depth_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writes_committed_{0};
  std::atomic<int64_t> writes_failed_{0};
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return InvalidArgument("the SQLite store needs a database file path");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(options.path, false));
  // WAL lets readers run beside the single writer; NORMAL sync keeps every committed
  // transaction across a process crash (SIGKILL), FULL also across power loss.
  std::string pragmas = std::string("PRAGMA journal_mode = WAL; PRAGMA synchronous = ") +
                        (options.synchronous_full ? "FULL" : "NORMAL") +
                        "; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -64000; "
                        "PRAGMA wal_autocheckpoint = 10000;";
  RETURN_IF_ERROR(db->ExecScript(pragmas.c_str()));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA quick_check"));
  RETURN_IF_ERROR(Migrate(*db));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA analysis_limit = 400; ANALYZE;"));
  return std::unique_ptr<Store>(new SqliteStore(options, std::move(db)));
}

Status Wait(const std::function<void(Done)>& start) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  start([promise](Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

}  // namespace ringo::store
