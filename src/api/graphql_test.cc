// The GraphQL parser, MLflow's query limits and the executor over a small schema.
#include "api/graphql.h"

#include <gtest/gtest.h>

#include <string>

namespace ringo::api::graphql {
namespace {

struct ParseCase {
  const char* query;
  bool ok;
  const char* error_part;  // for failures: part of the message
};

TEST(GraphqlParseTest, AcceptsWhatClientsSendAndRefusesTheRest) {
  const ParseCase kCases[] = {
      {"{ a }", true, ""},
      {"query { a b c }", true, ""},
      {"query Q @component(name: \"T\") { a(x: 1, y: -2.5e3, z: \"s\\n\\u00e9\") { b } }", true,
       ""},
      {"mutation M { a: b(input: {ids: [\"1\", \"2\",], view: ALL, n: null, f: true}) { c } }",
       true, ""},
      {"query Q($id: String!, $n: [Int!] = [1, 2]) { a(input: {id: $id}) { b } }", true, ""},
      {"fragment F on T { x y } query { a { ...F ... on T { z } ... @include(if: true) { w } } }",
       true, ""},
      {"# comment\n{ a(s: \"\"\"\n    block\n      text\n\"\"\") }", true, ""},
      {"", false, "Unexpected <EOF>"},
      {"{ }", false, "Expected Name, found '}'"},
      {"{ a", false, "Expected Name, found <EOF>"},
      {"{ a(x: ) }", false, "Unexpected ')'"},
      {"{ a(x: $v) }", true, ""},
      {"query ($v: Int = $w) { a }", false, "Unexpected '$'"},
      {"{ a(x: \"unterminated) }", false, "Unterminated string"},
      {"{ a(x: 01) }", false, "Invalid number"},
      {"{ a(x: \"\\q\") }", false, "Invalid character escape"},
      {"fragment on on T { a }", false, "Unexpected Name 'on'"},
      {"type T { a: Int }", false, "Unexpected Name 'type'"},
      {"{ a } ~", false, "Unexpected character"},
  };
  for (const ParseCase& c : kCases) {
    Result<Document> doc = Parse(c.query);
    EXPECT_EQ(doc.ok(), c.ok) << c.query;
    if (!c.ok && !doc.ok()) {
      EXPECT_EQ(doc.status().code(), Code::kInvalidArgument) << c.query;
      EXPECT_NE(doc.status().message().find(c.error_part), std::string::npos)
          << c.query << ": " << doc.status().message();
      EXPECT_EQ(doc.status().message().rfind("Syntax Error: ", 0), 0u) << c.query;
    }
  }
}

TEST(GraphqlParseTest, KeepsAliasesArgumentsFragmentsAndVariables) {
  Result<Document> doc = Parse(
      "fragment F on T { x }\n"
      "query Q($id: String = \"7\") { r: a(input: {id: $id, ids: [\"1\"]}) { ...F } }");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  ASSERT_EQ(doc->operations.size(), 1u);
  const Operation& op = doc->operations[0];
  EXPECT_EQ(op.type, "query");
  EXPECT_EQ(op.name, "Q");
  ASSERT_EQ(op.variables.size(), 1u);
  EXPECT_EQ(op.variables[0].type, "String");
  EXPECT_EQ(op.variables[0].default_value->text, "7");
  const Selection& a = op.selections[0];
  EXPECT_EQ(a.alias, "r");
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.key(), "r");
  const Value& input = a.args[0].second;
  ASSERT_EQ(input.kind, Value::Kind::kObject);
  EXPECT_EQ(input.fields[0].value.kind, Value::Kind::kVariable);
  EXPECT_EQ(input.fields[1].value.items[0].text, "1");
  EXPECT_EQ(a.selections[0].kind, Selection::Kind::kSpread);
  EXPECT_EQ(doc->fragments.at("F").type_condition, "T");
}

struct LimitCase {
  std::string query;
  const char* error_part;  // empty: within the limits
};

std::string Nested(int depth) {
  std::string q;
  for (int i = 0; i < depth; ++i) q += "{ a ";
  for (int i = 0; i < depth; ++i) q += "}";
  return q;
}

std::string Aliased(int n) {
  std::string q = "{ ";
  for (int i = 0; i < n; ++i) q += "x" + std::to_string(i) + ": a ";
  return q + "}";
}

TEST(GraphqlLimitsTest, RefusesQueriesLargerThanMlflowAllows) {
  const LimitCase kCases[] = {
      {Nested(9), ""},
      {Nested(11), "maximum depth of 10"},
      {Aliased(10), ""},
      {Aliased(11), "should have at most 10 root fields, got 11 root fields"},
      {"{ a { " + Aliased(11).substr(1) + " }", "at most 10 aliases, got 11 aliases"},
      // Aliases spread over fragments at one level are counted together.
      {"fragment F on T { x0: a x1: a x2: a x3: a x4: a x5: a } "
       "query { r { ...F ... on T { y0: a y1: a y2: a y3: a y4: a } } }",
       "at most 10 aliases"},
  };
  for (const LimitCase& c : kCases) {
    Result<Document> doc = Parse(c.query);
    ASSERT_TRUE(doc.ok()) << c.query;
    Status s = CheckLimits(*doc, Limits{});
    if (*c.error_part == '\0') {
      EXPECT_TRUE(s.ok()) << c.query << ": " << s.message();
    } else {
      EXPECT_NE(s.message().find(c.error_part), std::string::npos)
          << c.query << ": " << s.message();
    }
  }
}

// ---- a small schema: books, each with an author fetched by its own resolver ----

Result<std::string> Books(const ResolveContext& ctx) {
  std::string filter = ctx.Arg("input");
  if (filter.find("\"fail\"") != std::string::npos) return NotFound("no such shelf");
  return "{\"books\":[{\"book_id\":\"1\",\"pages\":320,\"price\":\"NaN\",\"author_id\":\"a\"},"
         "{\"book_id\":\"2\",\"state\":\"OUT\",\"author_id\":\"b\",\"tags\":[{\"key\":\"k\"}]}],"
         "\"echo\":" + filter + "}";
}

Result<std::string> Author(const ResolveContext& ctx) {
  std::string_view id;
  if (!ctx.has_parent || ctx.parent["author_id"].get(id)) return Internal("no parent");
  return "{\"author\":{\"name\":\"author " + std::string(id) + "\"}}";
}

constexpr TypeRef kStr{.kind = Kind::kString};
constexpr TypeRef kLongRef{.kind = Kind::kLong};
constexpr std::string_view kStates[] = {"IN", "OUT"};
constexpr EnumType kEnums[] = {{"State", kStates}};
constexpr FieldDef kTag[] = {{"key", kStr}, {"value", kStr}};
constexpr FieldDef kAuthor[] = {{"name", kStr}};
constexpr FieldDef kBook[] = {
    {"bookId", kStr},
    {"pages", kLongRef},
    {"price", {.kind = Kind::kFloat}},
    {"inPrint", {.kind = Kind::kBool}},
    {"state", {.kind = Kind::kEnum, .object = "State"}},
    {"tags", {.kind = Kind::kObject, .object = "Tag", .list = true}},
    {.name = "author", .type = {.kind = Kind::kObject, .object = "Author"}, .resolve = Author,
     .pick = "author"}};
constexpr FieldDef kShelf[] = {{"books", {.kind = Kind::kObject, .object = "Book", .list = true}},
                               {"echo", {.kind = Kind::kObject, .object = "Echo"}},
                               {.name = "error", .type = {.kind = Kind::kObject, .object = "Tag"},
                                .null_when_absent = true}};
constexpr FieldDef kEcho[] = {{"shelfId", kStr}, {"n", kLongRef}, {"state", kStr}};
constexpr InputField kShelfInput[] = {{"shelfId", kStr},
                                      {"n", kLongRef},
                                      {"state", {.kind = Kind::kEnum, .object = "State"}},
                                      {"ids", {.kind = Kind::kString, .list = true}}};
constexpr ArgDef kShelfArgs[] = {{"input", {.kind = Kind::kObject, .object = "ShelfInput"}}};
constexpr FieldDef kQuery[] = {{.name = "shelf", .type = {.kind = Kind::kObject, .object = "Shelf"},
                                .resolve = Books, .args = kShelfArgs}};
constexpr ObjectType kObjects[] = {{"Query", kQuery}, {"Shelf", kShelf}, {"Book", kBook},
                                   {"Tag", kTag},     {"Author", kAuthor}, {"Echo", kEcho}};
constexpr InputType kInputs[] = {{"ShelfInput", kShelfInput}};
constexpr Schema kSchema{.objects = kObjects, .inputs = kInputs, .enums = kEnums, .query = "Query"};

struct ExecCase {
  const char* query;
  const char* variables;
  const char* operation;
  const char* expected;
};

TEST(GraphqlExecuteTest, ReturnsOnlyTheSelectedFields) {
  const ExecCase kCases[] = {
      {"{ shelf { books { bookId } } }", "", "",
       R"({"data":{"shelf":{"books":[{"bookId":"1"},{"bookId":"2"}]}},"errors":null})"},
      // Absent members read as proto defaults; int64 as strings; NaN as null; apiError-like null.
      {"{ shelf { error { key } books { pages price inPrint state tags { key value } } } }", "", "",
       R"({"data":{"shelf":{"error":null,"books":[{"pages":"320","price":null,"inPrint":false,)"
       R"("state":null,"tags":[]},{"pages":"0","price":0.0,"inPrint":false,"state":"OUT",)"
       R"("tags":[{"key":"k","value":""}]}]}},"errors":null})"},
      // Aliases, fragments, inline fragments, __typename, a nested resolver.
      {"fragment F on Book { id: bookId } query Q { s: shelf { books { ...F ... on Book { "
       "author { name } } __typename } } }",
       "", "Q",
       R"({"data":{"s":{"books":[{"id":"1","author":{"name":"author a"},"__typename":"Book"},)"
       R"({"id":"2","author":{"name":"author b"},"__typename":"Book"}]}},"errors":null})"},
      // Arguments become the resolver's JSON: snake_case keys, enums as names, a single value as
      // a list, null fields left out.
      {"{ shelf(input: {shelfId: \"x\", n: 5, state: IN, ids: \"7\"}) "
       "{ echo { shelfId n state } } }",
       "", "",
       R"({"data":{"shelf":{"echo":{"shelfId":"x","n":"5","state":"IN"}}},"errors":null})"},
      {"query Q($id: String, $st: State) { shelf(input: {shelfId: $id, state: $st}) { echo { "
       "shelfId state } } }",
       R"({"id":"v","st":"OUT"})", "",
       R"({"data":{"shelf":{"echo":{"shelfId":"v","state":"OUT"}}},"errors":null})"},
      {"{ a: shelf(input: {shelfId: \"fail\"}) { echo { n } } b: shelf { echo { n } } }", "", "",
       R"({"data":{"a":null,"b":{"echo":{"n":"0"}}},"errors":["no such shelf"]})"},
      {"{ shelf { books { bookId @skip(if: true) pages @include(if: false) state } } }", "", "",
       R"({"data":{"shelf":{"books":[{"state":null},{"state":"OUT"}]}},"errors":null})"},
      // Validation and operation errors null the whole data.
      {"{ shelf { nope } }", "", "",
       R"({"data":null,"errors":["Cannot query field 'nope' on type 'Shelf'."]})"},
      {"{ shelf(input: {other: 1}) { echo { n } } }", "", "",
       R"({"data":null,"errors":["Field 'other' is not defined by type 'ShelfInput'."]})"},
      {"{ shelf(input: {n: \"5\"}) { echo { n } } }", "", "",
       R"({"data":null,"errors":["Expected value of type 'LongString', found \"5\"."]})"},
      {"{ shelf(input: {state: SOLD}) { echo { n } } }", "", "",
       R"({"data":null,"errors":["Value 'SOLD' does not exist in 'State' enum."]})"},
      {"{ shelf { books } }", "", "",
       R"({"data":null,"errors":["Field 'books' of type 'Book' must have a selection of )"
       R"(subfields."]})"},
      {"{ shelf { books { bookId { x } } } }", "", "",
       R"({"data":null,"errors":["Field 'bookId' must not have a selection since type )"
       R"('String' has no subfields."]})"},
      {"{ shelf { ...Missing } }", "", "",
       R"({"data":null,"errors":["Unknown fragment 'Missing'."]})"},
      {"fragment F on Shelf { ...F } { shelf { ...F } }", "", "",
       R"({"data":null,"errors":["Cannot spread fragment 'F' within itself."]})"},
      {"query A { shelf { echo { n } } } query B { shelf { echo { n } } }", "", "",
       R"({"data":null,"errors":["Must provide operation name if query contains multiple )"
       R"(operations."]})"},
      {"query A { shelf { echo { n } } }", "", "C",
       R"({"data":null,"errors":["Unknown operation named 'C'."]})"},
      {"query Q($id: String!) { shelf(input: {shelfId: $id}) { echo { n } } }", "", "",
       R"({"data":null,"errors":["Variable '$id' of required type 'String!' was not provided."]})"},
      {"{ shelf(input: {shelfId: $id}) { echo { n } } }", "", "",
       R"({"data":null,"errors":["Variable '$id' is not defined."]})"},
      {"{ shelf { books { bookId @deprecated } } }", "", "",
       R"({"data":null,"errors":["Unknown directive '@deprecated'."]})"},
      {"mutation { shelf { echo { n } } }", "", "",
       R"({"data":null,"errors":["Schema is not configured for mutations."]})"},
  };
  for (const ExecCase& c : kCases) {
    EXPECT_EQ(Execute(kSchema, c.query, c.variables, c.operation, nullptr), c.expected) << c.query;
  }
}

TEST(GraphqlExecuteTest, SyntaxErrorsAnswerNullData) {
  std::string body = Execute(kSchema, "{ shelf {", "", "", nullptr);
  EXPECT_EQ(body.rfind(R"({"data":null,"errors":["Syntax Error: )", 0), 0u) << body;
}

TEST(GraphqlSnakeCaseTest, ConvertsCamelCase) {
  EXPECT_EQ(SnakeCase("experimentId"), "experiment_id");
  EXPECT_EQ(SnakeCase("runIds"), "run_ids");
  EXPECT_EQ(SnakeCase("path"), "path");
}

}  // namespace
}  // namespace ringo::api::graphql
