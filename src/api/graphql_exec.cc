// Executes a parsed GraphQL operation against a schema of tables: variables and arguments are
// coerced to JSON by the input types, the selection is validated, then each field is resolved
// and only what was selected is written.
#include <algorithm>
#include <deque>
#include <memory>
#include <set>

#include "api/graphql.h"
#include "common/json_writer.h"

namespace ringo::api::graphql {

namespace {

using Args = std::vector<std::pair<std::string, std::string>>;
using Variables = std::map<std::string, Value, std::less<>>;

Value FromJson(simdjson::dom::element e) {
  Value v;
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      v.kind = Value::Kind::kList;
      for (simdjson::dom::element item : e.get_array()) v.items.push_back(FromJson(item));
      break;
    case simdjson::dom::element_type::OBJECT:
      v.kind = Value::Kind::kObject;
      for (auto field : e.get_object()) {
        v.fields.push_back({std::string(field.key), FromJson(field.value)});
      }
      break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      v.kind = Value::Kind::kInt;
      v.text = simdjson::minify(e);
      break;
    case simdjson::dom::element_type::DOUBLE:
      v.kind = Value::Kind::kFloat;
      v.text = simdjson::minify(e);
      break;
    case simdjson::dom::element_type::STRING:
      v.kind = Value::Kind::kString;
      v.text = std::string(e.get_string().value());
      break;
    case simdjson::dom::element_type::BOOL:
      v.kind = Value::Kind::kBool;
      v.text = e.get_bool().value() ? "true" : "false";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      break;
  }
  return v;
}

std::string Describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNull: return "null";
    case Value::Kind::kString: return "\"" + v.text + "\"";
    case Value::Kind::kVariable: return "$" + v.text;
    case Value::Kind::kList: return "[...]";
    case Value::Kind::kObject: return "{...}";
    default: return v.text;
  }
}

std::string_view KindName(const TypeRef& t) {
  switch (t.kind) {
    case Kind::kString: return "String";
    case Kind::kLong: return "LongString";
    case Kind::kInt: return "Int";
    case Kind::kFloat: return "Float";
    case Kind::kBool: return "Boolean";
    case Kind::kEnum:
    case Kind::kObject: return t.object;
  }
  return "?";
}

class Executor {
 public:
  Executor(const Schema& schema, const Document& doc, const void* user)
      : schema_(schema), doc_(doc), user_(user) {}

  // Picks the operation, coerces the variables and validates; a failure nulls the whole data.
  Status Prepare(std::string_view operation_name, std::string_view variables_json) {
    ASSIGN_OR_RETURN(op_, PickOperation(operation_name));
    if (op_->type == "subscription") return InvalidArgument("Subscriptions are not supported.");
    root_ = Object(op_->type == "mutation" ? schema_.mutation : schema_.query);
    if (root_ == nullptr) {
      return InvalidArgument("Schema is not configured for " + op_->type + "s.");
    }
    for (const Directive& d : op_->directives) {
      if (d.name != "component") return InvalidArgument("Unknown directive '@" + d.name + "'.");
    }
    RETURN_IF_ERROR(ReadVariables(variables_json));
    std::set<std::string> visiting;
    return Validate(*root_, op_->selections, &visiting);
  }

  std::string Run() {
    std::string body;
    JsonWriter w(&body);
    w.BeginObject().Key("data");
    simdjson::dom::element none;
    WriteSelections(*root_, none, false, op_->selections, w);
    w.Key("errors");
    WriteErrors(w, errors_);
    w.EndObject();
    return body;
  }

  static void WriteErrors(JsonWriter& w, const std::vector<std::string>& errors) {
    if (errors.empty()) {
      w.Null();
      return;
    }
    w.BeginArray();
    for (const std::string& e : errors) w.String(e);
    w.EndArray();
  }

 private:
  Result<const Operation*> PickOperation(std::string_view name) const {
    if (doc_.operations.empty()) return InvalidArgument("Must provide an operation.");
    if (name.empty()) {
      if (doc_.operations.size() > 1) {
        return InvalidArgument(
            "Must provide operation name if query contains multiple operations.");
      }
      return &doc_.operations.front();
    }
    for (const Operation& op : doc_.operations) {
      if (op.name == name) return &op;
    }
    return InvalidArgument("Unknown operation named '" + std::string(name) + "'.");
  }

  const ObjectType* Object(std::string_view name) const {
    for (const ObjectType& t : schema_.objects) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  const InputType* Input(std::string_view name) const {
    for (const InputType& t : schema_.inputs) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  const EnumType* Enum(std::string_view name) const {
    for (const EnumType& t : schema_.enums) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  static const FieldDef* Field(const ObjectType& t, std::string_view name) {
    for (const FieldDef& f : t.fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  Status ReadVariables(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::dom::object given;
    bool have = false;
    if (!json.empty() && json != "null") {
      simdjson::padded_string padded(json);
      auto parsed = parser.parse(padded);
      if (parsed.error() || parsed.value().get_object().get(given)) {
        return InvalidArgument("Variables are invalid JSON.");
      }
      have = true;
    }
    for (const VariableDefinition& def : op_->variables) {
      simdjson::dom::element e;
      if (have && !given[def.name].get(e)) {
        variables_[def.name] = FromJson(e);
      } else if (def.default_value) {
        variables_[def.name] = *def.default_value;
      } else if (def.type.ends_with('!')) {
        return InvalidArgument("Variable '$" + def.name + "' of required type '" + def.type +
                               "' was not provided.");
      }
    }
    return Status::Ok();
  }

  // `v` as JSON of input type `t`; `from_json` when it came from the variables (where enums are
  // strings).
  Result<std::string> Coerce(const Value& v, const TypeRef& t, bool from_json, int depth) {
    if (depth > 64) return InvalidArgument("Input nested too deeply.");
    if (v.kind == Value::Kind::kVariable) {
      auto it = variables_.find(v.text);
      bool declared = false;
      for (const VariableDefinition& d : op_->variables) declared |= d.name == v.text;
      if (!declared) return InvalidArgument("Variable '$" + v.text + "' is not defined.");
      if (it == variables_.end()) return std::string("null");
      return Coerce(it->second, t, true, depth + 1);
    }
    if (v.kind == Value::Kind::kNull) return std::string("null");
    if (t.list) {
      TypeRef item = t;
      item.list = false;
      std::string out = "[";
      const std::vector<Value> single = {v};
      const std::vector<Value>& items = v.kind == Value::Kind::kList ? v.items : single;
      for (size_t i = 0; i < items.size(); ++i) {
        ASSIGN_OR_RETURN(std::string one, Coerce(items[i], item, from_json, depth + 1));
        out += (i ? "," : "") + one;
      }
      return out + "]";
    }
    auto wrong = [&]() {
      return InvalidArgument("Expected value of type '" + std::string(KindName(t)) + "', found " +
                             Describe(v) + ".");
    };
    std::string out;
    JsonWriter w(&out);
    switch (t.kind) {
      case Kind::kString:
        if (v.kind != Value::Kind::kString) return wrong();
        w.String(v.text);
        return out;
      case Kind::kLong:
      case Kind::kInt:
        if (v.kind == Value::Kind::kInt) return v.text;
        if (from_json && t.kind == Kind::kLong && v.kind == Value::Kind::kString &&
            !v.text.empty() && v.text.find_first_not_of("-0123456789") == std::string::npos) {
          return v.text;
        }
        return wrong();
      case Kind::kFloat:
        if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kFloat) return v.text;
        return wrong();
      case Kind::kBool:
        if (v.kind != Value::Kind::kBool) return wrong();
        return v.text;
      case Kind::kEnum: {
        const EnumType* e = Enum(t.object);
        bool ok = v.kind == Value::Kind::kEnum || (from_json && v.kind == Value::Kind::kString);
        if (!ok || e == nullptr) return wrong();
        for (std::string_view name : e->values) {
          if (name == v.text) {
            w.String(v.text);
            return out;
          }
        }
        return InvalidArgument("Value '" + v.text + "' does not exist in '" +
                               std::string(t.object) + "' enum.");
      }
      case Kind::kObject:
        return CoerceObject(v, t, from_json, depth);
    }
    return wrong();
  }

  Result<std::string> CoerceObject(const Value& v, const TypeRef& t, bool from_json, int depth) {
    const InputType* in = Input(t.object);
    if (in == nullptr || v.kind != Value::Kind::kObject) {
      return InvalidArgument("Expected value of type '" + std::string(t.object) + "', found " +
                             Describe(v) + ".");
    }
    std::string out = "{";
    bool first = true;
    for (const auto& [name, value] : v.fields) {
      const InputField* f = nullptr;
      for (const InputField& candidate : in->fields) {
        if (candidate.name == name || (from_json && SnakeCase(candidate.name) == name)) {
          f = &candidate;
        }
      }
      if (f == nullptr) {
        return InvalidArgument("Field '" + name + "' is not defined by type '" +
                               std::string(in->name) + "'.");
      }
      ASSIGN_OR_RETURN(std::string json, Coerce(value, f->type, from_json, depth + 1));
      if (json == "null") continue;  // an unset field of the request message
      std::string key;
      JsonWriter(&key).String(SnakeCase(f->name));
      out += (first ? "" : ",") + key + ":" + json;
      first = false;
    }
    return out + "}";
  }

  Status Validate(const ObjectType& type, const std::vector<Selection>& set,
                  std::set<std::string>* visiting) {
    for (const Selection& s : set) {
      for (const Directive& d : s.directives) {
        if (d.name != "include" && d.name != "skip") {
          return InvalidArgument("Unknown directive '@" + d.name + "'.");
        }
        if (d.args.size() != 1 || d.args[0].first != "if") {
          return InvalidArgument("Directive '@" + d.name + "' takes one argument 'if'.");
        }
        RETURN_IF_ERROR(Coerce(d.args[0].second, TypeRef{.kind = Kind::kBool}, false, 0).status());
      }
      if (s.kind == Selection::Kind::kSpread) {
        auto it = doc_.fragments.find(s.name);
        if (it == doc_.fragments.end()) {
          return InvalidArgument("Unknown fragment '" + s.name + "'.");
        }
        if (!visiting->insert(s.name).second) {
          return InvalidArgument("Cannot spread fragment '" + s.name + "' within itself.");
        }
        RETURN_IF_ERROR(ValidateFragment(type, it->second.type_condition, it->second.selections,
                                         visiting));
        visiting->erase(s.name);
      } else if (s.kind == Selection::Kind::kInline) {
        RETURN_IF_ERROR(ValidateFragment(type, s.name, s.selections, visiting));
      } else {
        RETURN_IF_ERROR(ValidateField(type, s, visiting));
      }
    }
    return Status::Ok();
  }

  Status ValidateFragment(const ObjectType& type, const std::string& condition,
                          const std::vector<Selection>& set, std::set<std::string>* visiting) {
    if (!condition.empty() && Object(condition) == nullptr) {
      return InvalidArgument("Unknown type '" + condition + "'.");
    }
    // Without interfaces or unions, a fragment on another type never applies here.
    if (!condition.empty() && condition != type.name) {
      return InvalidArgument("Fragment cannot be spread here as objects of type '" +
                             std::string(type.name) + "' can never be of type '" + condition +
                             "'.");
    }
    return Validate(type, set, visiting);
  }

  Status ValidateField(const ObjectType& type, const Selection& s,
                       std::set<std::string>* visiting) {
    if (s.name == "__typename") {
      if (!s.selections.empty() || !s.args.empty()) {
        return InvalidArgument("Field '__typename' must not have a selection.");
      }
      return Status::Ok();
    }
    const FieldDef* f = Field(type, s.name);
    if (f == nullptr) {
      return InvalidArgument("Cannot query field '" + s.name + "' on type '" +
                             std::string(type.name) + "'.");
    }
    Args args;
    for (const auto& [name, value] : s.args) {
      const ArgDef* def = nullptr;
      for (const ArgDef& a : f->args) {
        if (a.name == name) def = &a;
      }
      if (def == nullptr) {
        return InvalidArgument("Unknown argument '" + name + "' on field '" +
                               std::string(type.name) + "." + s.name + "'.");
      }
      ASSIGN_OR_RETURN(std::string json, Coerce(value, def->type, false, 0));
      if (json != "null") args.emplace_back(SnakeCase(name), std::move(json));
    }
    args_[&s] = std::move(args);
    bool leaf = f->type.kind != Kind::kObject;
    if (leaf && !s.selections.empty()) {
      return InvalidArgument("Field '" + s.name + "' must not have a selection since type '" +
                             std::string(KindName(f->type)) + "' has no subfields.");
    }
    if (!leaf && s.selections.empty()) {
      return InvalidArgument("Field '" + s.name + "' of type '" + std::string(f->type.object) +
                             "' must have a selection of subfields.");
    }
    if (leaf) return Status::Ok();
    const ObjectType* sub = Object(f->type.object);
    if (sub == nullptr) {
      return Internal("GraphQL type " + std::string(f->type.object) + " is missing");
    }
    return Validate(*sub, s.selections, visiting);
  }

  bool Included(const Selection& s) {
    for (const Directive& d : s.directives) {
      auto json = Coerce(d.args[0].second, TypeRef{.kind = Kind::kBool}, false, 0);
      bool value = json.ok() && *json == "true";
      if ((d.name == "include" && !value) || (d.name == "skip" && value)) return false;
    }
    return true;
  }

  // The fields of a selection set by response key, fragments flattened, same keys merged.
  void Collect(const std::vector<Selection>& set,
               std::vector<std::pair<std::string, std::vector<const Selection*>>>* out) {
    for (const Selection& s : set) {
      if (!Included(s)) continue;
      if (s.kind == Selection::Kind::kSpread) {
        Collect(doc_.fragments.find(s.name)->second.selections, out);
      } else if (s.kind == Selection::Kind::kInline) {
        Collect(s.selections, out);
      } else {
        auto it = std::find_if(out->begin(), out->end(),
                               [&](auto& e) { return e.first == s.key(); });
        if (it == out->end()) {
          out->emplace_back(s.key(), std::vector<const Selection*>{&s});
        } else {
          it->second.push_back(&s);
        }
      }
    }
  }

  void WriteSelections(const ObjectType& type, simdjson::dom::element parent, bool have_parent,
                       const std::vector<Selection>& set, JsonWriter& w) {
    std::vector<std::pair<std::string, std::vector<const Selection*>>> fields;
    Collect(set, &fields);
    w.BeginObject();
    for (const auto& [key, group] : fields) {
      w.Key(key);
      const Selection& s = *group.front();
      if (s.name == "__typename") {
        w.String(type.name);
        continue;
      }
      std::vector<Selection> merged;
      for (const Selection* g : group) {
        merged.insert(merged.end(), g->selections.begin(), g->selections.end());
      }
      const FieldDef& f = *Field(type, s.name);
      simdjson::dom::element value;
      bool have = false;
      if (f.resolve != nullptr) {
        ResolveContext ctx{.user = user_, .has_parent = have_parent && parent.is_object(),
                           .parent = parent, .args = args_[&s]};
        Result<std::string> r = f.resolve(ctx);
        if (!r.ok()) {
          errors_.push_back(r.status().message());
          w.Null();
          continue;
        }
        have = ParseResolved(*r, f.pick, &value);
      } else if (have_parent && parent.is_object()) {
        std::string json_key = f.json.empty() ? SnakeCase(f.name) : std::string(f.json);
        have = !parent[json_key].get(value);
      }
      WriteValue(f.type, f.null_when_absent, value, have, merged, w);
    }
    w.EndObject();
  }

  bool ParseResolved(const std::string& json, std::string_view pick, simdjson::dom::element* out) {
    parsers_.push_back(std::make_unique<simdjson::dom::parser>());
    auto parsed = parsers_.back()->parse(json);
    if (parsed.error()) return false;
    *out = parsed.value();
    if (pick.empty()) return true;
    simdjson::dom::element picked;
    if (!out->is_object() || (*out)[pick].get(picked)) return false;
    *out = picked;
    return true;
  }

  void WriteValue(const TypeRef& t, bool null_when_absent, simdjson::dom::element e, bool have,
                  const std::vector<Selection>& sub, JsonWriter& w) {
    if (have && e.is_null()) have = false;
    if (!have && null_when_absent) {
      w.Null();
      return;
    }
    if (t.list) {
      TypeRef item = t;
      item.list = false;
      w.BeginArray();
      if (have && e.is_array()) {
        for (simdjson::dom::element x : e.get_array()) WriteValue(item, false, x, true, sub, w);
      }
      w.EndArray();
      return;
    }
    // An absent field reads as proto2's default, as MLflow's resolvers over proto messages do.
    switch (t.kind) {
      case Kind::kObject:
        WriteSelections(*Object(t.object), e, have, sub, w);
        return;
      case Kind::kString:
        if (have && e.is_string()) {
          w.String(e.get_string().value());
        } else {
          w.String(have ? simdjson::minify(e) : "");
        }
        return;
      case Kind::kLong:
        if (have && e.is_string()) {
          w.String(e.get_string().value());
        } else {
          w.String(have ? simdjson::minify(e) : "0");
        }
        return;
      case Kind::kInt:
        w.Int(have && e.is_int64() ? e.get_int64().value() : 0);
        return;
      case Kind::kFloat:
        // NaN and infinities (strings in proto3 JSON) are not GraphQL Floats: MLflow answers null.
        if (have && e.is_number()) {
          w.Double(e.get_double().value());
        } else if (have) {
          w.Null();
        } else {
          w.Double(0);
        }
        return;
      case Kind::kBool:
        w.Bool(have && e.is_bool() && e.get_bool().value());
        return;
      case Kind::kEnum:
        if (have && e.is_string()) {
          w.String(e.get_string().value());
        } else {
          w.Null();
        }
        return;
    }
  }

  const Schema& schema_;
  const Document& doc_;
  const void* user_;
  const Operation* op_ = nullptr;
  const ObjectType* root_ = nullptr;
  Variables variables_;
  std::map<const Selection*, Args> args_;
  std::vector<std::string> errors_;
  std::deque<std::unique_ptr<simdjson::dom::parser>> parsers_;  // keep resolved JSON alive
};

std::string ErrorBody(const Status& s) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("data").Null().Key("errors");
  Executor::WriteErrors(w, {s.message()});
  w.EndObject();
  return body;
}

}  // namespace

std::string ResolveContext::Arg(std::string_view name, std::string_view fallback) const {
  for (const auto& [k, v] : args) {
    if (k == name) return v;
  }
  return std::string(fallback);
}

std::string Execute(const Schema& schema, std::string_view query, std::string_view variables,
                    std::string_view operation_name, const void* user, const Limits& limits) {
  Result<Document> doc = Parse(query);
  if (!doc.ok()) return ErrorBody(doc.status());
  if (Status s = CheckLimits(*doc, limits); !s.ok()) return ErrorBody(s);
  Executor exec(schema, *doc, user);
  if (Status s = exec.Prepare(operation_name, variables); !s.ok()) return ErrorBody(s);
  return exec.Run();
}

}  // namespace ringo::api::graphql
