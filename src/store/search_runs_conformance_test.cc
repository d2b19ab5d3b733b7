// Store conformance on every engine: run search (filters, order, pages, views).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

// ---------------------------------------------------------------------------------------------
// store::Run search

// Four runs in one experiment with known attributes, metrics, params, tags and
// datasets:
//   name   start  status    acc   loss  params.model  tags.team  dataset
//   (context) alpha  1000   FINISHED  0.9   0.3   cnn           vision train/d1
//   (training) beta   2000   RUNNING   0.5   -     CNN           Vision eval/d2
//   (validation) gamma  3000   FAILED    -     0.1   rnn           text       -
//   delta  4000   RUNNING   NaN   -     -             -          -
class SearchRunsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    exp_ = MustCreateExperiment("search");
    alpha_ = MustCreateRun(exp_, "alpha", 1000).info.run_id;
    beta_ = MustCreateRun(exp_, "beta", 2000).info.run_id;
    gamma_ = MustCreateRun(exp_, "gamma", 3000).info.run_id;
    delta_ = MustCreateRun(exp_, "delta", 4000).info.run_id;

    Batch a;
    a.metrics = {{"acc", 0.9, 1, 0}, {"loss", 0.3, 1, 0}};
    a.params = {{"model", "cnn"}};
    a.tags = {{"team", "vision"}};
    ASSERT_TRUE(LogBatch(alpha_, a).ok());
    Batch b;
    b.metrics = {{"acc", 0.2, 1, 0}, {"acc", 0.5, 2, 1}};  // latest is 0.5
    b.params = {{"model", "CNN"}};
    b.tags = {{"team", "Vision"}};
    ASSERT_TRUE(LogBatch(beta_, b).ok());
    Batch c;
    c.metrics = {{"loss", 0.1, 1, 0}};
    c.params = {{"model", "rnn"}};
    c.tags = {{"team", "text"}};
    ASSERT_TRUE(LogBatch(gamma_, c).ok());
    Batch d;
    d.metrics = {{"acc", std::nan(""), 1, 0}};
    ASSERT_TRUE(LogBatch(delta_, d).ok());

    UpdateRunRequest finish;
    finish.run_id = alpha_;
    finish.status = "FINISHED";
    finish.end_time = 1500;
    ASSERT_TRUE(UpdateRun(finish).ok());
    UpdateRunRequest fail;
    fail.run_id = gamma_;
    fail.status = "FAILED";
    ASSERT_TRUE(UpdateRun(fail).ok());

    auto log = [&](const std::string& run_id, DatasetInput in) {
      return Wait([&](Done done) { store_->LogInputs(run_id, {in}, std::move(done)); });
    };
    ASSERT_TRUE(log(alpha_, MakeInput("train", "d1", "training")).ok());
    ASSERT_TRUE(log(beta_, MakeInput("eval", "d2", "validation")).ok());
  }

  std::vector<std::string> Filter(const std::string& filter) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.filter = filter;
    std::vector<std::string> names;
    Result<RunPage> page = store_->SearchRuns(s);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().ToString();
    if (page.ok()) {
      for (const store::Run& r : page->runs) names.push_back(r.info.run_name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> Ordered(std::vector<std::string> order_by) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.order_by = std::move(order_by);
    std::vector<std::string> names;
    Result<RunPage> page = store_->SearchRuns(s);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok()) {
      for (const store::Run& r : page->runs) names.push_back(r.info.run_name);
    }
    return names;
  }

  std::string exp_, alpha_, beta_, gamma_, delta_;
};

using Names = std::vector<std::string>;

// Everything of a run a search answer holds, as text, to compare it with GetRun's.
std::string Describe(const store::Run& r) {
  const RunInfo& i = r.info;
  std::string out = i.run_id + "|" + i.experiment_id + "|" + i.run_name + "|" + i.user_id + "|" +
                    i.status + "|" + std::to_string(i.start_time) + "|" +
                    (i.end_time ? std::to_string(*i.end_time) : "-") + "|" + i.artifact_uri +
                    "|" + i.lifecycle_stage + "\n";
  for (const Metric& m : r.metrics) {
    out += "m " + m.key + "=" + std::to_string(m.value) + "@" + std::to_string(m.step) + "," +
           std::to_string(m.timestamp) + "\n";
  }
  for (const Param& p : r.params) out += "p " + p.key + "=" + p.value + "\n";
  for (const Tag& t : r.tags) out += "t " + t.key + "=" + t.value + "\n";
  for (const DatasetInput& in : r.inputs) {
    const Dataset& d = in.dataset;
    out += "d " + d.name + "/" + d.digest + "/" + d.source_type + "/" + d.source + "/" + d.schema +
           "/" + d.profile + "\n";
    for (const Tag& t : in.tags) out += "  " + t.key + "=" + t.value + "\n";
  }
  return out;
}

TEST_P(SearchRunsTest, AnswersEachRunAsGetRunDoes) {
  RunSearch all;
  all.experiment_ids = {exp_};
  Result<RunPage> page = store_->SearchRuns(all);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->runs.size(), 4u);
  for (const store::Run& found : page->runs) {
    Result<store::Run> got = store_->GetRun(found.info.run_id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(Describe(found), Describe(*got));
  }
  // The first page of two, too.
  all.max_results = 2;
  page = store_->SearchRuns(all);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_EQ(page->runs[0].info.run_id, delta_);
  EXPECT_EQ(Describe(page->runs[1]), Describe(*store_->GetRun(gamma_)));
}

TEST_P(SearchRunsTest, FiltersOnAttributes) {
  EXPECT_EQ(Filter(""), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("attributes.run_name = 'alpha'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("run_name != 'alpha'"), (Names{"beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("run_name LIKE '%a'"), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("run_name LIKE 'A%'"), (Names{}));
  EXPECT_EQ(Filter("run_name ILIKE 'A%'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("attributes.status = 'RUNNING'"), (Names{"beta", "delta"}));
  EXPECT_EQ(Filter("status != 'RUNNING'"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("attributes.start_time > 2000"), (Names{"delta", "gamma"}));
  EXPECT_EQ(Filter("start_time >= 2000 AND start_time < 4000"), (Names{"beta", "gamma"}));
  EXPECT_EQ(Filter("attributes.end_time = 1500"), (Names{"alpha"}));
  // Numbers an integer column cannot hold exactly still compare as numbers.
  EXPECT_EQ(Filter("attributes.start_time > 2000.5"), (Names{"delta", "gamma"}));
  EXPECT_EQ(Filter("attributes.start_time < 1.5e12"), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("attributes.start_time > 1e12"), (Names{}));
  EXPECT_EQ(Filter("attributes.run_id = '" + gamma_ + "'"), (Names{"gamma"}));
  EXPECT_EQ(Filter("attributes.run_id IN ('" + alpha_ + "', '" + delta_ + "')"),
            (Names{"alpha", "delta"}));
  EXPECT_EQ(Filter("attributes.run_id NOT IN ('" + alpha_ + "', '" + delta_ + "')"),
            (Names{"beta", "gamma"}));
}

TEST_P(SearchRunsTest, FiltersOnLatestMetricValues) {
  EXPECT_EQ(Filter("metrics.acc > 0.4"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("metrics.acc >= 0.9"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.acc < 0.3"), (Names{}));  // beta's older 0.2 does not count
  EXPECT_EQ(Filter("metrics.acc = 0.5"), (Names{"beta"}));
  EXPECT_EQ(Filter("metrics.acc != 0.5"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.loss <= 0.3"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("metrics.acc > 0 AND metrics.loss > 0"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.missing > 0"), (Names{}));
}

TEST_P(SearchRunsTest, FiltersOnParamsAndTags) {
  EXPECT_EQ(Filter("params.model = 'cnn'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("params.model != 'cnn'"), (Names{"beta", "gamma"}));
  EXPECT_EQ(Filter("params.model LIKE 'c%'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("params.model LIKE 'C%'"), (Names{"beta"}));
  EXPECT_EQ(Filter("params.model ILIKE 'c%'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("params.model LIKE '_nn'"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("tags.team = 'vision'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("tags.team LIKE 'V%'"), (Names{"beta"}));
  EXPECT_EQ(Filter("tags.team ILIKE 'vis%'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("tags.team != 'text'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("tags.\"mlflow.runName\" = 'beta'"), (Names{"beta"}));
  EXPECT_EQ(Filter("tags.mlflow.runName = 'gamma'"), (Names{"gamma"}));
  EXPECT_EQ(Filter("params.model ILIKE 'cnn' AND tags.team = 'Vision'"), (Names{"beta"}));
}

// Whichever metric, param or tag clause the engine starts from (SQLite: the one matching the
// fewest rows), the others are applied to its runs: the answer is every clause's runs in common.
TEST_P(SearchRunsTest, CombinedClausesGiveTheSameRunsWhicheverStarts) {
  EXPECT_EQ(Filter("metrics.loss < 0.2 AND params.model LIKE '%n%'"), (Names{"gamma"}));
  EXPECT_EQ(Filter("params.model LIKE '%n%' AND metrics.loss < 0.2"), (Names{"gamma"}));
  EXPECT_EQ(Filter("params.model != 'rnn' AND metrics.acc > 0.4 AND tags.team ILIKE 'v%'"),
            (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("tags.team != 'text' AND metrics.acc < 1 AND metrics.loss > 0"),
            (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.acc >= 0 AND params.model = 'nothing'"), (Names{}));
  EXPECT_EQ(Filter("params.model ILIKE '%n%' AND status = 'RUNNING' AND "
                   "metrics.acc > 0"),
            (Names{"beta"}));
  EXPECT_EQ(Filter("metrics.acc > 0.4 AND params.model ILIKE 'cnn' AND datasets.name = 'eval'"),
            (Names{"beta"}));
}

// Equality on long values compares them whole, though an engine may index only a prefix
// (PostgreSQL's first 200 characters): values that share the prefix, a value that is the
// prefix of others, one just short of it, and the same in two-byte characters.
TEST_P(SearchRunsTest, FiltersOnLongParamAndTagValuesWhole) {
  const std::string prefix(200, 'v');
  const std::string e = "\xC3\xA9";  // U+00E9 in UTF-8
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += e;
  const std::vector<std::pair<std::string, std::string>> values = {
      {"long1", prefix + std::string(2900, 'x') + "1"},
      {"long2", prefix + std::string(2900, 'x') + "2"},
      {"exact", prefix},
      {"short", prefix.substr(1)},
      {"accents", accents},
      {"accents_longer", accents + e},
      {"accents_short", accents.substr(2)},
  };
  for (const auto& [name, value] : values) {
    Batch b;
    b.params = {{"long", value}};
    b.tags = {{"long", value}};
    ASSERT_TRUE(LogBatch(MustCreateRun(exp_, name, 5000).info.run_id, b).ok()) << name;
  }
  for (const auto& [name, value] : values) {
    EXPECT_EQ(Filter("params.long = '" + value + "'"), (Names{name}));
    EXPECT_EQ(Filter("tags.long = '" + value + "'"), (Names{name}));
  }
  EXPECT_EQ(Filter("params.long != '" + values[0].second + "'").size(), values.size() - 1);
}

TEST_P(SearchRunsTest, FiltersOnDatasets) {
  EXPECT_EQ(Filter("datasets.name = 'train'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("datasets.name IN ('train', 'eval')"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("datasets.digest = 'd2'"), (Names{"beta"}));
  EXPECT_EQ(Filter("datasets.context = 'training'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("datasets.context LIKE '%tion'"), (Names{"beta"}));
  EXPECT_EQ(Filter("datasets.name != 'train'"), (Names{"beta"}));
}

TEST_P(SearchRunsTest, DefaultOrderIsStartTimeDescending) {
  EXPECT_EQ(Ordered({}), (Names{"delta", "gamma", "beta", "alpha"}));
  EXPECT_EQ(Ordered({"start_time ASC"}), (Names{"alpha", "beta", "gamma", "delta"}));
  EXPECT_EQ(Ordered({"attributes.run_name"}), (Names{"alpha", "beta", "delta", "gamma"}));
}

TEST_P(SearchRunsTest, OrderByMetricPutsMissingAndNaNLast) {
  EXPECT_EQ(Ordered({"metrics.acc DESC"}), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Ordered({"metrics.acc ASC"}), (Names{"beta", "alpha", "delta", "gamma"}));
  EXPECT_EQ(Ordered({"metrics.loss"}), (Names{"gamma", "alpha", "delta", "beta"}));
}

TEST_P(SearchRunsTest, OrderBySeveralKeys) {
  EXPECT_EQ(Ordered({"params.model ASC"}), (Names{"beta", "alpha", "gamma", "delta"}));
  EXPECT_EQ(Ordered({"status ASC", "metrics.acc DESC"}),
            (Names{"gamma", "alpha", "beta", "delta"}));
  EXPECT_EQ(Ordered({"status DESC", "start_time ASC"}), (Names{"beta", "delta", "alpha", "gamma"}));
  EXPECT_EQ(Ordered({"tags.team DESC", "run_name DESC"}),
            (Names{"alpha", "gamma", "beta", "delta"}));
}

TEST_P(SearchRunsTest, PagesAreExact) {
  for (int64_t page_size : {1, 2, 3, 4, 5}) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.max_results = page_size;
    Names seen;
    int pages = 0;
    do {
      Result<RunPage> page = store_->SearchRuns(s);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      EXPECT_LE(static_cast<int64_t>(page->runs.size()), page_size);
      for (const store::Run& r : page->runs) seen.push_back(r.info.run_name);
      s.page_token = page->next_page_token;
      ASSERT_LT(++pages, 10);
    } while (!s.page_token.empty());
    EXPECT_EQ(pages, (4 + page_size - 1) / page_size) << "page size " << page_size;
    EXPECT_EQ(seen, (Names{"delta", "gamma", "beta", "alpha"})) << "page size " << page_size;
  }
}

TEST_P(SearchRunsTest, ViewTypes) {
  ASSERT_TRUE(DeleteRun(beta_).ok());
  RunSearch s;
  s.experiment_ids = {exp_};
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{delta_, gamma_, alpha_}));
  s.view = ViewType::kDeletedOnly;
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{beta_}));
  s.view = ViewType::kAll;
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{delta_, gamma_, beta_, alpha_}));
}

TEST_P(SearchRunsTest, SearchesOnlyTheGivenExperiments) {
  store::Run other = MustCreateRun("0", "elsewhere", 9000);
  RunSearch s;
  s.experiment_ids = {"0"};
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{other.info.run_id}));
  s.experiment_ids = {"0", exp_};
  EXPECT_EQ(SearchIds(s).size(), 5u);
}

TEST_P(SearchRunsTest, RejectsBadArguments) {
  auto code = [&](RunSearch s) { return store_->SearchRuns(s).status().code(); };
  RunSearch s;
  s.experiment_ids = {exp_};
  for (const char* bad : {"metrics.acc >> 1", "metrics.acc > 'x'", "params.model > 'a'",
                          "run_name = ", "bogus.key = 'x'", "metrics.acc > 1 OR metrics.acc < 0"}) {
    RunSearch f = s;
    f.filter = bad;
    EXPECT_EQ(code(f), Code::kInvalidArgument) << bad;
  }
  RunSearch o = s;
  o.order_by = {"metrics.acc SIDEWAYS"};
  EXPECT_EQ(code(o), Code::kInvalidArgument);
  RunSearch m = s;
  m.max_results = 0;
  EXPECT_EQ(code(m), Code::kInvalidArgument);
  m.max_results = 50001;
  EXPECT_EQ(code(m), Code::kInvalidArgument);
  RunSearch t = s;
  t.page_token = "garbage!";
  EXPECT_EQ(code(t), Code::kInvalidArgument);
  RunSearch e;
  EXPECT_EQ(code(e), Code::kInvalidArgument);
  e.experiment_ids = {"nope"};
  EXPECT_EQ(code(e), Code::kInvalidArgument);
}

RINGO_ON_EVERY_ENGINE(SearchRunsTest);

}  // namespace
}  // namespace ringo::store
