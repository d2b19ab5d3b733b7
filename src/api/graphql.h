// A small GraphQL executor (private to api/): the query language MLflow's web UI and clients send
// to /graphql, parsed into a document, checked against a schema of tables and executed by
// resolvers that answer JSON (MLflow's REST answers), of which only the selected fields are kept.
#ifndef RINGO_API_GRAPHQL_H_
#define RINGO_API_GRAPHQL_H_

#include <simdjson.h>

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ringo::api::graphql {

// ---- the document ----

struct ObjectField;

// An argument or variable value as written in the query (or taken from the variables JSON).
struct Value {
  enum class Kind { kNull, kBool, kInt, kFloat, kString, kEnum, kList, kObject, kVariable };
  Kind kind = Kind::kNull;
  std::string text;  // bool/int/float literal text, string contents, enum or variable name
  std::vector<Value> items;         // kList
  std::vector<ObjectField> fields;  // kObject, in the order written
};

// One field of an input object value.
struct ObjectField {
  std::string name;
  Value value;
};

struct Directive {
  std::string name;
  std::vector<std::pair<std::string, Value>> args;
};

struct Selection;

// A field (`alias: name(args) @directives { ... }`), a fragment spread (`...Name`) or an inline
// fragment (`... on Type { ... }`).
struct Selection {
  enum class Kind { kField, kSpread, kInline };
  Kind kind = Kind::kField;
  std::string alias;  // kField: the response key; empty when the name is the key
  std::string name;   // kField: the field; kSpread: the fragment; kInline: the type condition
  std::vector<std::pair<std::string, Value>> args;
  std::vector<Directive> directives;
  std::vector<Selection> selections;
  const std::string& key() const { return alias.empty() ? name : alias; }
};

struct VariableDefinition {
  std::string name;
  std::string type;  // as written, e.g. "[String!]!"
  std::optional<Value> default_value;
};

struct Operation {
  std::string type;  // "query", "mutation" or "subscription"
  std::string name;  // empty for an anonymous operation
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  std::vector<Selection> selections;
};

struct Fragment {
  std::string type_condition;
  std::vector<Selection> selections;
};

struct Document {
  std::vector<Operation> operations;
  std::map<std::string, Fragment, std::less<>> fragments;
};

// Parses a GraphQL document (operations and fragment definitions; no type system definitions).
// kInvalidArgument "Syntax Error: ..." with the line and column for anything else.
Result<Document> Parse(std::string_view text);

// MLflow's limits on what one query may ask for (it refuses larger ones before executing them).
struct Limits {
  int max_depth = 10;
  int max_selections = 1000;
  int max_root_fields = 10;
  int max_aliases = 10;  // per selection set, fragments merged in
};

// kInvalidArgument with MLflow's message when `doc` asks for more than `limits` allow.
Status CheckLimits(const Document& doc, const Limits& limits);

// ---- the schema ----

enum class Kind { kString, kLong, kInt, kFloat, kBool, kEnum, kObject };

struct TypeRef {
  Kind kind = Kind::kString;
  std::string_view object = {};  // kObject: the object type's name; kEnum: the enum's name
  bool list = false;
};

// What a field with its own resolver computes from. `parent` is the JSON object the enclosing
// object was projected from (null at the root); `args` maps each argument given to its value as
// JSON (input field names in snake_case, as MLflow's REST messages name them).
struct ResolveContext {
  const void* user = nullptr;
  bool has_parent = false;  // whether `parent` holds an object
  simdjson::dom::element parent = {};
  std::vector<std::pair<std::string, std::string>> args;
  // The argument's JSON, or `fallback`.
  std::string Arg(std::string_view name, std::string_view fallback = "{}") const;
};
// The field's value as JSON text, or an error whose message goes to the response's "errors".
using Resolver = Result<std::string> (*)(const ResolveContext&);

struct ArgDef {
  std::string_view name;
  TypeRef type;  // kObject names an InputType
};

struct FieldDef {
  std::string_view name;  // as GraphQL spells it (camelCase)
  TypeRef type;
  std::string_view json = {};  // the JSON member it is read from; empty: name in snake_case
  Resolver resolve = nullptr;  // computes the value instead of reading the parent's member
  std::string_view pick = {};  // of a resolver's JSON, the member that is the value; empty: all
  std::span<const ArgDef> args = {};
  bool null_when_absent = false;  // absent reads as null rather than the proto default
};

struct ObjectType {
  std::string_view name;
  std::span<const FieldDef> fields;
};

struct InputField {
  std::string_view name;  // camelCase
  TypeRef type;
};

struct InputType {
  std::string_view name;
  std::span<const InputField> fields;
};

struct EnumType {
  std::string_view name;
  std::span<const std::string_view> values;
};

struct Schema {
  std::span<const ObjectType> objects = {};
  std::span<const InputType> inputs = {};
  std::span<const EnumType> enums = {};
  std::string_view query = {};  // the root object types; an empty mutation: none
  std::string_view mutation = {};
};

// Executes the operation `operation_name` (or the only one) of `query` with `variables` (a JSON
// object, or empty) and returns the response body {"data": ..., "errors": [messages] or null}.
// Syntax, limit and validation errors give null data; a resolver's error nulls its field only.
std::string Execute(const Schema& schema, std::string_view query, std::string_view variables,
                    std::string_view operation_name, const void* user,
                    const Limits& limits = Limits{});

// "experimentId" -> "experiment_id".
std::string SnakeCase(std::string_view camel);

}  // namespace ringo::api::graphql

#endif  // RINGO_API_GRAPHQL_H_
