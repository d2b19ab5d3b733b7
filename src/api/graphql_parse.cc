// The GraphQL query language (executable definitions of the October 2021 spec) and MLflow's
// limits on a query's size.
#include <algorithm>
#include <cstdint>
#include <set>

#include "api/graphql.h"

namespace ringo::api::graphql {

namespace {

struct Token {
  enum class Kind { kEnd, kPunct, kName, kInt, kFloat, kString };
  Kind kind = Kind::kEnd;
  std::string text;  // punctuator, name, number literal, or decoded string
  int line = 1;
  int column = 1;
};

bool IsNameStart(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Splits the source into tokens; commas, whitespace, comments and a BOM are insignificant.
class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Result<Token> Next() {
    SkipIgnored();
    Token t;
    t.line = line_;
    t.column = static_cast<int>(pos_ - line_start_) + 1;
    if (pos_ >= src_.size()) return t;
    char c = src_[pos_];
    if (src_.substr(pos_, 3) == "...") {
      pos_ += 3;
      return Punct(t, "...");
    }
    if (std::string_view("!$&():=@[]{}|").find(c) != std::string_view::npos) {
      ++pos_;
      return Punct(t, std::string(1, c));
    }
    if (IsNameStart(c)) {
      size_t start = pos_;
      while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
      t.kind = Token::Kind::kName;
      t.text = std::string(src_.substr(start, pos_ - start));
      return t;
    }
    if (c == '-' || IsDigit(c)) return Number(t);
    if (c == '"') return String(t);
    return Error(t, "Unexpected character: '" + std::string(1, c) + "'.");
  }

 private:
  static Result<Token> Punct(Token t, std::string text) {
    t.kind = Token::Kind::kPunct;
    t.text = std::move(text);
    return t;
  }

  static Status Error(const Token& at, const std::string& what) {
    return InvalidArgument("Syntax Error: " + what + " (line " + std::to_string(at.line) +
                                   ", column " + std::to_string(at.column) + ")");
  }

  void SkipIgnored() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        line_start_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else if (src_.substr(pos_, 3) == "\xEF\xBB\xBF") {
        pos_ += 3;
      } else {
        return;
      }
    }
  }

  Result<Token> Number(Token t) {
    size_t start = pos_;
    if (src_[pos_] == '-') ++pos_;
    size_t digits = pos_;
    while (pos_ < src_.size() && IsDigit(src_[pos_])) ++pos_;
    if (pos_ == digits || (src_[digits] == '0' && pos_ - digits > 1)) {
      return Error(t, "Invalid number.");
    }
    bool is_float = false;
    if (pos_ < src_.size() && src_[pos_] == '.') {
      is_float = true;
      size_t frac = ++pos_;
      while (pos_ < src_.size() && IsDigit(src_[pos_])) ++pos_;
      if (pos_ == frac) return Error(t, "Invalid number, expected digit after '.'.");
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      size_t exp = pos_;
      while (pos_ < src_.size() && IsDigit(src_[pos_])) ++pos_;
      if (pos_ == exp) return Error(t, "Invalid number, expected digit in exponent.");
    }
    if (pos_ < src_.size() && (IsNameStart(src_[pos_]) || src_[pos_] == '.')) {
      return Error(t, "Invalid number.");
    }
    t.kind = is_float ? Token::Kind::kFloat : Token::Kind::kInt;
    t.text = std::string(src_.substr(start, pos_ - start));
    return t;
  }

  Result<Token> String(Token t) {
    t.kind = Token::Kind::kString;
    if (src_.substr(pos_, 3) == "\"\"\"") return BlockString(t);
    ++pos_;
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') return Error(t, "Unterminated string.");
      char c = src_[pos_++];
      if (c == '"') return t;
      if (c != '\\') {
        t.text.push_back(c);
        continue;
      }
      if (pos_ >= src_.size()) return Error(t, "Unterminated string.");
      char e = src_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': t.text.push_back(e); break;
        case 'b': t.text.push_back('\b'); break;
        case 'f': t.text.push_back('\f'); break;
        case 'n': t.text.push_back('\n'); break;
        case 'r': t.text.push_back('\r'); break;
        case 't': t.text.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > src_.size()) return Error(t, "Invalid Unicode escape sequence.");
          uint32_t cp = 0;
          for (int i = 0; i < 4; ++i) {
            char h = src_[pos_++];
            int d = IsDigit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                         : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) return Error(t, "Invalid Unicode escape sequence.");
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          AppendUtf8(&t.text, cp);
          break;
        }
        default:
          return Error(t, "Invalid character escape sequence: '\\" + std::string(1, e) + "'.");
      }
    }
  }

  // """...""": raw text with \""" the only escape, common indentation removed (spec 2.9.4).
  Result<Token> BlockString(Token t) {
    pos_ += 3;
    std::string raw;
    while (true) {
      if (pos_ >= src_.size()) return Error(t, "Unterminated string.");
      if (src_.substr(pos_, 3) == "\"\"\"") {
        pos_ += 3;
        break;
      }
      if (src_.substr(pos_, 4) == "\\\"\"\"") {
        raw += "\"\"\"";
        pos_ += 4;
        continue;
      }
      if (src_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
      raw.push_back(src_[pos_++]);
    }
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i <= raw.size(); ++i) {
      if (i == raw.size() || raw[i] == '\n') {
        std::string l = raw.substr(start, i - start);
        if (!l.empty() && l.back() == '\r') l.pop_back();
        lines.push_back(std::move(l));
        start = i + 1;
      }
    }
    size_t indent = std::string::npos;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t n = lines[i].find_first_not_of(" \t");
      if (n != std::string::npos) indent = std::min(indent, n);
    }
    if (indent != std::string::npos) {
      for (size_t i = 1; i < lines.size(); ++i) {
        lines[i].erase(0, std::min(indent, lines[i].size()));
      }
    }
    auto blank = [](const std::string& l) {
      return l.find_first_not_of(" \t") == std::string::npos;
    };
    while (!lines.empty() && blank(lines.front())) lines.erase(lines.begin());
    while (!lines.empty() && blank(lines.back())) lines.pop_back();
    for (size_t i = 0; i < lines.size(); ++i) t.text += (i ? "\n" : "") + lines[i];
    return t;
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
};

// Recursive descent over the grammar, one token of lookahead. Nesting is bounded so that a
// hostile query cannot exhaust the stack.
class Parser {
 public:
  explicit Parser(std::string_view src) : lexer_(src) {}

  Result<Document> Run() {
    RETURN_IF_ERROR(Advance());
    Document doc;
    if (tok_.kind == Token::Kind::kEnd) return Unexpected("Unexpected <EOF>.");
    while (tok_.kind != Token::Kind::kEnd) {
      if (IsPunct("{")) {
        Operation op;
        op.type = "query";
        ASSIGN_OR_RETURN(op.selections, SelectionSet(0));
        doc.operations.push_back(std::move(op));
      } else if (tok_.kind == Token::Kind::kName && tok_.text == "fragment") {
        RETURN_IF_ERROR(FragmentDefinition(&doc));
      } else if (tok_.kind == Token::Kind::kName &&
                 (tok_.text == "query" || tok_.text == "mutation" || tok_.text == "subscription")) {
        ASSIGN_OR_RETURN(Operation op, OperationDefinition());
        doc.operations.push_back(std::move(op));
      } else {
        return Unexpected("Unexpected " + Describe() + ".");
      }
    }
    return doc;
  }

 private:
  static constexpr int kMaxNesting = 64;

  Status Advance() {
    ASSIGN_OR_RETURN(tok_, lexer_.Next());
    return Status::Ok();
  }
  bool IsPunct(std::string_view p) const {
    return tok_.kind == Token::Kind::kPunct && tok_.text == p;
  }
  std::string Describe() const {
    switch (tok_.kind) {
      case Token::Kind::kEnd: return "<EOF>";
      case Token::Kind::kPunct: return "'" + tok_.text + "'";
      case Token::Kind::kName: return "Name '" + tok_.text + "'";
      case Token::Kind::kInt: return "Int '" + tok_.text + "'";
      case Token::Kind::kFloat: return "Float '" + tok_.text + "'";
      case Token::Kind::kString: return "String";
    }
    return "token";
  }
  Status Unexpected(const std::string& what) const {
    return InvalidArgument("Syntax Error: " + what + " (line " + std::to_string(tok_.line) +
                                   ", column " + std::to_string(tok_.column) + ")");
  }
  Status Expect(std::string_view p) {
    if (!IsPunct(p)) {
      return Unexpected("Expected '" + std::string(p) + "', found " + Describe() + ".");
    }
    return Advance();
  }
  Result<std::string> Name() {
    if (tok_.kind != Token::Kind::kName) {
      return Unexpected("Expected Name, found " + Describe() + ".");
    }
    std::string n = tok_.text;
    RETURN_IF_ERROR(Advance());
    return n;
  }

  Result<Operation> OperationDefinition() {
    Operation op;
    op.type = tok_.text;
    RETURN_IF_ERROR(Advance());
    if (tok_.kind == Token::Kind::kName) {
      ASSIGN_OR_RETURN(op.name, Name());
    }
    if (IsPunct("(")) {
      RETURN_IF_ERROR(Advance());
      while (!IsPunct(")")) {
        VariableDefinition v;
        RETURN_IF_ERROR(Expect("$"));
        ASSIGN_OR_RETURN(v.name, Name());
        RETURN_IF_ERROR(Expect(":"));
        ASSIGN_OR_RETURN(v.type, Type(0));
        if (IsPunct("=")) {
          RETURN_IF_ERROR(Advance());
          ASSIGN_OR_RETURN(v.default_value, ParseValue(true, 0));
        }
        std::vector<Directive> ignored;
        RETURN_IF_ERROR(Directives(&ignored));
        op.variables.push_back(std::move(v));
      }
      RETURN_IF_ERROR(Advance());
    }
    RETURN_IF_ERROR(Directives(&op.directives));
    ASSIGN_OR_RETURN(op.selections, SelectionSet(0));
    return op;
  }

  Status FragmentDefinition(Document* doc) {
    RETURN_IF_ERROR(Advance());
    ASSIGN_OR_RETURN(std::string name, Name());
    if (name == "on") return Unexpected("Unexpected Name 'on'.");
    if (tok_.kind != Token::Kind::kName || tok_.text != "on") {
      return Unexpected("Expected 'on', found " + Describe() + ".");
    }
    RETURN_IF_ERROR(Advance());
    Fragment f;
    ASSIGN_OR_RETURN(f.type_condition, Name());
    std::vector<Directive> ignored;
    RETURN_IF_ERROR(Directives(&ignored));
    ASSIGN_OR_RETURN(f.selections, SelectionSet(0));
    doc->fragments[name] = std::move(f);
    return Status::Ok();
  }

  Result<std::string> Type(int depth) {
    if (depth > kMaxNesting) return Unexpected("Type nested too deeply.");
    std::string t;
    if (IsPunct("[")) {
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(std::string inner, Type(depth + 1));
      RETURN_IF_ERROR(Expect("]"));
      t = "[" + inner + "]";
    } else {
      ASSIGN_OR_RETURN(t, Name());
    }
    if (IsPunct("!")) {
      RETURN_IF_ERROR(Advance());
      t += "!";
    }
    return t;
  }

  Status Directives(std::vector<Directive>* out) {
    while (IsPunct("@")) {
      RETURN_IF_ERROR(Advance());
      Directive d;
      ASSIGN_OR_RETURN(d.name, Name());
      if (IsPunct("(")) {
        ASSIGN_OR_RETURN(d.args, Arguments(0));
      }
      out->push_back(std::move(d));
    }
    return Status::Ok();
  }

  Result<std::vector<std::pair<std::string, Value>>> Arguments(int depth) {
    RETURN_IF_ERROR(Expect("("));
    std::vector<std::pair<std::string, Value>> args;
    if (IsPunct(")")) return Unexpected("Expected Name, found ')'.");
    while (!IsPunct(")")) {
      ASSIGN_OR_RETURN(std::string name, Name());
      RETURN_IF_ERROR(Expect(":"));
      ASSIGN_OR_RETURN(Value v, ParseValue(false, depth));
      args.emplace_back(std::move(name), std::move(v));
    }
    RETURN_IF_ERROR(Advance());
    return args;
  }

  Result<std::vector<Selection>> SelectionSet(int depth) {
    if (depth > kMaxNesting) return Unexpected("Selections nested too deeply.");
    RETURN_IF_ERROR(Expect("{"));
    std::vector<Selection> out;
    if (IsPunct("}")) return Unexpected("Expected Name, found '}'.");
    while (!IsPunct("}")) {
      ASSIGN_OR_RETURN(Selection s, OneSelection(depth));
      out.push_back(std::move(s));
    }
    RETURN_IF_ERROR(Advance());
    return out;
  }

  Result<Selection> OneSelection(int depth) {
    Selection s;
    if (IsPunct("...")) {
      RETURN_IF_ERROR(Advance());
      if (tok_.kind == Token::Kind::kName && tok_.text != "on") {
        s.kind = Selection::Kind::kSpread;
        ASSIGN_OR_RETURN(s.name, Name());
        RETURN_IF_ERROR(Directives(&s.directives));
        return s;
      }
      s.kind = Selection::Kind::kInline;
      if (tok_.kind == Token::Kind::kName) {
        RETURN_IF_ERROR(Advance());
        ASSIGN_OR_RETURN(s.name, Name());
      }
      RETURN_IF_ERROR(Directives(&s.directives));
      ASSIGN_OR_RETURN(s.selections, SelectionSet(depth + 1));
      return s;
    }
    ASSIGN_OR_RETURN(s.name, Name());
    if (IsPunct(":")) {
      RETURN_IF_ERROR(Advance());
      s.alias = std::move(s.name);
      ASSIGN_OR_RETURN(s.name, Name());
    }
    if (IsPunct("(")) {
      ASSIGN_OR_RETURN(s.args, Arguments(depth));
    }
    RETURN_IF_ERROR(Directives(&s.directives));
    if (IsPunct("{")) {
      ASSIGN_OR_RETURN(s.selections, SelectionSet(depth + 1));
    }
    return s;
  }

  Result<Value> ParseValue(bool is_const, int depth) {
    if (depth > kMaxNesting) return Unexpected("Value nested too deeply.");
    Value v;
    switch (tok_.kind) {
      case Token::Kind::kInt: v.kind = Value::Kind::kInt; break;
      case Token::Kind::kFloat: v.kind = Value::Kind::kFloat; break;
      case Token::Kind::kString: v.kind = Value::Kind::kString; break;
      case Token::Kind::kName:
        v.kind = tok_.text == "true" || tok_.text == "false" ? Value::Kind::kBool
                 : tok_.text == "null"                       ? Value::Kind::kNull
                                                             : Value::Kind::kEnum;
        break;
      case Token::Kind::kPunct: return CompositeValue(is_const, depth);
      case Token::Kind::kEnd: return Unexpected("Unexpected <EOF>.");
    }
    if (v.kind != Value::Kind::kNull) v.text = tok_.text;
    RETURN_IF_ERROR(Advance());
    return v;
  }

  Result<Value> CompositeValue(bool is_const, int depth) {
    Value v;
    if (IsPunct("$") && !is_const) {
      RETURN_IF_ERROR(Advance());
      v.kind = Value::Kind::kVariable;
      ASSIGN_OR_RETURN(v.text, Name());
      return v;
    }
    if (IsPunct("[")) {
      RETURN_IF_ERROR(Advance());
      v.kind = Value::Kind::kList;
      while (!IsPunct("]")) {
        ASSIGN_OR_RETURN(Value item, ParseValue(is_const, depth + 1));
        v.items.push_back(std::move(item));
      }
      RETURN_IF_ERROR(Advance());
      return v;
    }
    if (IsPunct("{")) {
      RETURN_IF_ERROR(Advance());
      v.kind = Value::Kind::kObject;
      while (!IsPunct("}")) {
        ASSIGN_OR_RETURN(std::string name, Name());
        RETURN_IF_ERROR(Expect(":"));
        ASSIGN_OR_RETURN(Value item, ParseValue(is_const, depth + 1));
        v.fields.push_back({std::move(name), std::move(item)});
      }
      RETURN_IF_ERROR(Advance());
      return v;
    }
    return Unexpected("Unexpected " + Describe() + ".");
  }

  Lexer lexer_;
  Token tok_;
};

// What MLflow counts: the fields of one selection set with those of its fragments merged in.
void CollectLevel(const Document& doc, const std::vector<Selection>& set,
                  std::set<std::string>* visited, std::vector<const Selection*>* fields,
                  int* aliases) {
  for (const Selection& s : set) {
    if (s.kind == Selection::Kind::kField) {
      fields->push_back(&s);
      if (!s.alias.empty()) ++*aliases;
    } else if (s.kind == Selection::Kind::kInline) {
      CollectLevel(doc, s.selections, visited, fields, aliases);
    } else if (visited->insert(s.name).second) {
      auto it = doc.fragments.find(s.name);
      if (it != doc.fragments.end()) {
        CollectLevel(doc, it->second.selections, visited, fields, aliases);
      }
    }
  }
}

}  // namespace

Result<Document> Parse(std::string_view text) { return Parser(text).Run(); }

Status CheckLimits(const Document& doc, const Limits& limits) {
  int root_fields = 0, max_aliases = 0, selections = 0;
  for (const Operation& op : doc.operations) {
    struct Level {
      const std::vector<Selection>* set;
      int depth;
      std::set<std::string> visited;
    };
    std::vector<Level> stack = {{&op.selections, 1, {}}};
    while (!stack.empty()) {
      Level level = std::move(stack.back());
      stack.pop_back();
      if (level.depth > limits.max_depth) {
        return InvalidArgument("Query exceeds maximum depth of " +
                                       std::to_string(limits.max_depth));
      }
      std::vector<const Selection*> fields;
      int aliases = 0;
      std::set<std::string> visited = level.visited;
      CollectLevel(doc, *level.set, &visited, &fields, &aliases);
      for (const Selection* f : fields) {
        if (level.depth == 1) ++root_fields;
        if (!f->selections.empty()) {
          stack.push_back({&f->selections, level.depth + 1, level.visited});
        }
        if (++selections > limits.max_selections) {
          return InvalidArgument("Query exceeds maximum total selections of " +
                                         std::to_string(limits.max_selections));
        }
      }
      max_aliases = std::max(max_aliases, aliases);
    }
  }
  auto too_many = [](int limit, const char* what, int got, const char* env) {
    return InvalidArgument("GraphQL queries should have at most " + std::to_string(limit) +
                                   " " + what + ", got " + std::to_string(got) + " " + what +
                                   ". To increase the limit, set the " + env +
                                   " environment variable.");
  };
  if (root_fields > limits.max_root_fields) {
    return too_many(limits.max_root_fields, "root fields", root_fields,
                    "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS");
  }
  if (max_aliases > limits.max_aliases) {
    return too_many(limits.max_aliases, "aliases", max_aliases,
                    "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES");
  }
  return Status::Ok();
}

std::string SnakeCase(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace ringo::api::graphql
