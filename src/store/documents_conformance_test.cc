// Store conformance on every engine: versioned documents and event logs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

class DocumentStoreTest : public StoreTest {
 protected:
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t expected,
                      const std::string& event = "") {
    return WaitFor<int64_t>([&](DoneWith<int64_t> done) {
      store_->PutDocument("deployment", key, value, expected, event, std::move(done));
    });
  }
  Status Append(const std::string& key, const std::string& value) {
    return Wait([&](Done done) { store_->AppendEvent("deployment", key, value, std::move(done)); });
  }
};

TEST_P(DocumentStoreTest, RevisionsAndOptimisticConcurrency) {
  EXPECT_EQ(Put("d1", "{\"v\":1}", 0).value(), 1);
  EXPECT_EQ(Put("d1", "{\"v\":2}", 0).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Put("d1", "{\"v\":2}", 1).value(), 2);
  EXPECT_EQ(Put("d1", "{\"v\":3}", 1).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Put("d1", "{\"v\":3}", -1).value(), 3);
  Result<Document> d = store_->GetDocument("deployment", "d1");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->value, "{\"v\":3}");
  EXPECT_EQ(d->revision, 3);
  EXPECT_GT(d->updated_time, 0);
  EXPECT_EQ(store_->GetDocument("deployment", "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetDocument("channel", "d1").status().code(), Code::kNotFound);
}

TEST_P(DocumentStoreTest, DeleteOnlyAtTheExpectedRevision) {
  ASSERT_EQ(Put("gone", "{}", 0).value(), 1);
  ASSERT_EQ(Put("gone", "{\"v\":2}", 1).value(), 2);
  auto del = [&](const std::string& key, int64_t expected) {
    return Wait([&](Done done) {
      store_->DeleteDocument("deployment", key, expected, std::move(done));
    });
  };
  EXPECT_EQ(del("gone", 1).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(store_->GetDocument("deployment", "gone").ok());
  EXPECT_TRUE(del("gone", 2).ok());
  EXPECT_EQ(store_->GetDocument("deployment", "gone").status().code(), Code::kNotFound);
  EXPECT_EQ(del("gone", -1).code(), Code::kNotFound);
  // A deleted document starts again at revision 1.
  EXPECT_EQ(Put("gone", "{}", 0).value(), 1);
  EXPECT_TRUE(del("gone", -1).ok());
}

TEST_P(DocumentStoreTest, ListByPrefixInByteOrderWithLiteralWildcards) {
  for (const char* key : {"c/b", "c/B", "c/a", "c_x", "c%y", "d/a"}) {
    ASSERT_TRUE(Put(key, "{}", -1).ok()) << key;
  }
  auto keys = [&](const std::string& prefix) {
    std::vector<std::string> out;
    Result<std::vector<Document>> docs = store_->ListDocuments("deployment", prefix);
    EXPECT_TRUE(docs.ok()) << docs.status().ToString();
    if (docs.ok()) {
      for (const Document& d : *docs) out.push_back(d.key);
    }
    return out;
  };
  EXPECT_EQ(keys("c/"), (std::vector<std::string>{"c/B", "c/a", "c/b"}));
  EXPECT_EQ(keys("c_"), (std::vector<std::string>{"c_x"}));
  EXPECT_EQ(keys("c%"), (std::vector<std::string>{"c%y"}));
  EXPECT_EQ(keys("").size(), 6u);
  EXPECT_TRUE(keys("zzz").empty());
}

TEST_P(DocumentStoreTest, EventsAreNumberedPerLogAndWrittenWithTheirDocument) {
  ASSERT_TRUE(Put("d1", "{}", 0, "{\"e\":\"created\"}").ok());
  ASSERT_TRUE(Append("d1", "{\"e\":\"a\"}").ok());
  ASSERT_TRUE(Append("d1", "{\"e\":\"b\"}").ok());
  ASSERT_TRUE(Append("d2", "{\"e\":\"other\"}").ok());
  // A rejected put writes neither the document nor its event.
  EXPECT_EQ(Put("d1", "{}", 0, "{\"e\":\"lost\"}").status().code(), Code::kFailedPrecondition);
  Result<std::vector<Event>> all = store_->ListEvents("deployment", "d1", 0, 100);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].value, "{\"e\":\"created\"}");
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].seq, int64_t(i) + 1);
  Result<std::vector<Event>> after = store_->ListEvents("deployment", "d1", 1, 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].value, "{\"e\":\"a\"}");
  Result<std::vector<Event>> other = store_->ListEvents("deployment", "d2", 0, 100);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].seq, 1);
}

RINGO_ON_EVERY_ENGINE(DocumentStoreTest);

}  // namespace
}  // namespace ringo::store
