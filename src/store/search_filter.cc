// Parses the MLflow search filter and order_by mini-languages into clauses.
#include "store/search_filter.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/util.h"

namespace ringo::store {
namespace {

enum class TokenKind {
  kEnd,
  kWord,    // unquoted identifier or keyword; may contain dots
  kNumber,  // numeric literal as written (validated by the parser)
  kString,  // quoted text: a string value or, with ` or ", an identifier
  kOp,      // = != < <= > >=
  kLParen,
  kRParen,
  kComma,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t pos = 0;  // offset of the raw token in the input
  size_t len = 0;
  std::string text;     // kString: contents with escapes resolved; else raw
  char quote = 0;       // kString only: the quote character used
  bool spaced = false;  // whitespace precedes the token
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsWordChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// An attribute as a query may spell it. One canonical attribute may have
// several spellings, so the tables below list each spelling separately.
struct AttrInfo {
  std::string_view name;
  std::string_view canonical;
  bool numeric;
  bool in_list;  // IN / NOT IN allowed
  bool filterable;
  bool orderable;
};

constexpr AttrInfo kRunAttrs[] = {
    {"run_id", "run_id", false, true, true, true},
    {"run_name", "run_name", false, false, true, true},
    {"run name", "run_name", false, false, true, true},
    {"status", "status", false, false, true, true},
    {"user_id", "user_id", false, false, true, true},
    {"artifact_uri", "artifact_uri", false, false, true, true},
    {"lifecycle_stage", "lifecycle_stage", false, false, true, false},
    {"start_time", "start_time", true, false, true, true},
    {"end_time", "end_time", true, false, true, true},
    {"created", "start_time", true, false, true, true},
    {"Created", "start_time", true, false, true, true},
};

constexpr AttrInfo kExperimentAttrs[] = {
    {"name", "name", false, false, true, true},
    {"experiment_id", "experiment_id", false, false, false, true},
    {"creation_time", "creation_time", true, false, true, true},
    {"last_update_time", "last_update_time", true, false, true, true},
};

constexpr AttrInfo kRegisteredModelAttrs[] = {
    {"name", "name", false, true, true, true},
    {"creation_timestamp", "creation_timestamp", true, false, false, true},
    {"last_updated_timestamp", "last_updated_timestamp", true, false, false, true},
    {"timestamp", "last_updated_timestamp", true, false, false, true},
};

constexpr AttrInfo kModelVersionAttrs[] = {
    {"name", "name", false, true, true, true},
    {"run_id", "run_id", false, true, true, false},
    {"source_path", "source_path", false, true, true, false},
    {"version_number", "version_number", true, false, true, true},
    {"creation_timestamp", "creation_timestamp", true, false, false, true},
    {"last_updated_timestamp", "last_updated_timestamp", true, false, false, true},
    {"timestamp", "last_updated_timestamp", true, false, false, true},
};

constexpr AttrInfo kLoggedModelAttrs[] = {
    {"name", "name", false, true, true, true},
    {"model_type", "model_type", false, true, true, true},
    {"status", "status", false, true, true, true},
    {"source_run_id", "source_run_id", false, true, true, true},
    {"model_id", "model_id", false, true, true, true},
    {"creation_time", "creation_time", true, false, true, true},
    {"last_updated_time", "last_updated_time", true, false, true, true},
};

// Which entities besides attributes and tags a language has.
enum EntityBits : unsigned { kMetrics = 1, kParams = 2, kDatasets = 4, kRunPrefix = 8 };

// The differences between the languages of each search.
struct Dialect {
  std::span<const AttrInfo> attrs;
  unsigned entities;            // EntityBits
  bool order_by_keys;           // order by metrics/params/tags (runs only)
  bool quoted_numbers;          // numeric attributes also compare with '3' (the registry's habit)
  std::string_view searched;    // "run", "experiment", ... for messages
};

constexpr Dialect kRunDialect{kRunAttrs, kMetrics | kParams | kDatasets | kRunPrefix, true, false,
                              "run"};
constexpr Dialect kExperimentDialect{kExperimentAttrs, 0, false, false, "experiment"};
constexpr Dialect kRegisteredModelDialect{kRegisteredModelAttrs, 0, false, true,
                                          "registered model"};
constexpr Dialect kModelVersionDialect{kModelVersionAttrs, 0, false, true, "model version"};
constexpr Dialect kLoggedModelDialect{kLoggedModelAttrs, kParams | kMetrics, false, false,
                                      "logged model"};

std::optional<Entity> EntityFromPrefix(std::string_view prefix) {
  if (prefix == "metrics" || prefix == "metric") return Entity::kMetric;
  if (prefix == "params" || prefix == "param" || prefix == "parameters" || prefix == "parameter") {
    return Entity::kParam;
  }
  if (prefix == "tags" || prefix == "tag") return Entity::kTag;
  if (prefix == "attributes" || prefix == "attribute" || prefix == "attr" || prefix == "run") {
    return Entity::kAttribute;
  }
  if (prefix == "datasets" || prefix == "dataset") return Entity::kDataset;
  return std::nullopt;
}

bool IsNumericComparator(Comparator op) {
  switch (op) {
    case Comparator::kEq:
    case Comparator::kNe:
    case Comparator::kLt:
    case Comparator::kLe:
    case Comparator::kGt:
    case Comparator::kGe:
      return true;
    default:
      return false;
  }
}

bool IsStringComparator(Comparator op, bool allow_in) {
  switch (op) {
    case Comparator::kEq:
    case Comparator::kNe:
    case Comparator::kLike:
    case Comparator::kILike:
      return true;
    case Comparator::kIn:
    case Comparator::kNotIn:
      return allow_in;
    default:
      return false;
  }
}

// Recursive-descent parser over a token list lexed up front. The input is
// short (one HTTP field), so lexing eagerly keeps the grammar code simple.
class Parser {
 public:
  Parser(std::string_view input, std::string error_prefix, const Dialect& dialect)
      : input_(input), error_prefix_(std::move(error_prefix)), dialect_(dialect) {}

  Status Lex();
  Result<std::vector<Clause>> ParseFilter();
  Result<OrderKey> ParseOrderBy();

 private:
  struct Identifier {
    Entity entity = Entity::kAttribute;
    std::string key;
    std::string raw;  // as written, for messages
  };

  const Token& Peek() const { return tokens_[next_]; }
  const Token& Advance() {
    const Token& token = tokens_[next_];
    if (token.kind != TokenKind::kEnd) ++next_;
    return token;
  }
  bool PeekKeyword(std::string_view lower_keyword) const {
    return Peek().kind == TokenKind::kWord && ToLower(Peek().text) == lower_keyword;
  }

  Status Fail(std::string_view reason) const {
    return InvalidArgument(error_prefix_ + std::string(reason));
  }
  std::string Describe(const Token& token) const;
  std::string RawSpan(size_t begin, size_t end) const {
    return std::string(input_.substr(begin, end - begin));
  }

  Status LexString(size_t* i, Token* token) const;
  Result<Identifier> ParseIdentifier();
  const AttrInfo* FindAttr(std::string_view name, bool for_order) const;
  std::string AttrNames(bool for_order) const;
  Result<Clause> ParseClause();
  Status ParseInList(std::vector<std::string>* values);

  std::string_view input_;
  std::string error_prefix_;
  const Dialect& dialect_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
};

std::string Parser::Describe(const Token& token) const {
  if (token.kind == TokenKind::kEnd) return "end of input";
  std::string raw = RawSpan(token.pos, token.pos + token.len);
  // Quoted text already carries its own delimiters.
  if (token.kind == TokenKind::kString) return raw;
  return "'" + raw + "'";
}

Status Parser::LexString(size_t* i, Token* token) const {
  const char quote = input_[*i];
  size_t j = *i + 1;
  std::string text;
  while (true) {
    if (j >= input_.size()) {
      return Fail("unterminated string " + std::string(input_.substr(*i)));
    }
    char c = input_[j];
    if (c == '\\' && j + 1 < input_.size() && input_[j + 1] == quote) {
      text += quote;
      j += 2;
    } else if (c == quote) {
      if (j + 1 < input_.size() && input_[j + 1] == quote) {
        text += quote;
        j += 2;
      } else {
        ++j;
        break;
      }
    } else {
      text += c;
      ++j;
    }
  }
  token->kind = TokenKind::kString;
  token->quote = quote;
  token->text = std::move(text);
  token->len = j - *i;
  *i = j;
  return Status::Ok();
}

Status Parser::Lex() {
  size_t i = 0;
  const size_t n = input_.size();
  while (true) {
    bool spaced = false;
    while (i < n && IsSpace(input_[i])) {
      ++i;
      spaced = true;
    }
    Token token;
    token.pos = i;
    token.spaced = spaced;
    if (i >= n) {
      tokens_.push_back(std::move(token));
      return Status::Ok();
    }
    const char c = input_[i];
    const char next = i + 1 < n ? input_[i + 1] : '\0';
    const char after = i + 2 < n ? input_[i + 2] : '\0';
    const bool starts_number =
        IsDigit(c) || (c == '.' && IsDigit(next)) ||
        ((c == '-' || c == '+') && (IsDigit(next) || (next == '.' && IsDigit(after))));
    if (starts_number) {
      size_t j = i;
      if (input_[j] == '-' || input_[j] == '+') ++j;
      while (j < n && (IsDigit(input_[j]) || input_[j] == '.')) ++j;
      if (j < n && (input_[j] == 'e' || input_[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (input_[k] == '-' || input_[k] == '+')) ++k;
        if (k < n && IsDigit(input_[k])) {
          j = k;
          while (j < n && IsDigit(input_[j])) ++j;
        }
      }
      token.kind = TokenKind::kNumber;
      // Something like "1abc" is neither a number nor a valid identifier;
      // keep it as one word so the error shows all of it.
      if (j < n && (IsWordChar(input_[j]) || input_[j] == '.')) {
        token.kind = TokenKind::kWord;
        while (j < n && (IsWordChar(input_[j]) || input_[j] == '.')) ++j;
      }
      token.len = j - i;
      token.text = std::string(input_.substr(i, token.len));
      i = j;
    } else if (IsWordChar(c)) {
      size_t j = i;
      while (j < n && (IsWordChar(input_[j]) || input_[j] == '.')) ++j;
      token.kind = TokenKind::kWord;
      token.len = j - i;
      token.text = std::string(input_.substr(i, token.len));
      i = j;
    } else if (c == '\'' || c == '"' || c == '`') {
      RETURN_IF_ERROR(LexString(&i, &token));
    } else if (c == '=' || c == '<' || c == '>' || (c == '!' && next == '=')) {
      token.kind = TokenKind::kOp;
      token.len = (c != '=' && next == '=') ? 2 : 1;
      token.text = std::string(input_.substr(i, token.len));
      i += token.len;
    } else if (c == '(' || c == ')' || c == ',') {
      token.kind = c == '('   ? TokenKind::kLParen
                   : c == ')' ? TokenKind::kRParen
                              : TokenKind::kComma;
      token.len = 1;
      token.text = std::string(1, c);
      ++i;
    } else {
      return Fail("unexpected character '" + std::string(1, c) + "'");
    }
    tokens_.push_back(std::move(token));
  }
}

Result<Parser::Identifier> Parser::ParseIdentifier() {
  const Token& first = Peek();
  Identifier id;
  // A whole quoted identifier names an attribute whose spelling needs quotes,
  // such as "run name". Single quotes always mean a string value.
  if (first.kind == TokenKind::kString && first.quote != '\'') {
    Advance();
    id.key = first.text;
    id.raw = RawSpan(first.pos, first.pos + first.len);
  } else if (first.kind == TokenKind::kWord) {
    const std::string lower = ToLower(first.text);
    if (lower == "and" || lower == "or" || lower == "not" || lower == "in" || lower == "like" ||
        lower == "ilike") {
      return Fail("expected an identifier, got keyword " + Describe(first));
    }
    Advance();
    size_t end = first.pos + first.len;
    const size_t dot = first.text.find('.');
    if (dot == std::string::npos) {
      id.key = first.text;
    } else {
      const std::string prefix = first.text.substr(0, dot);
      std::optional<Entity> entity = EntityFromPrefix(prefix);
      if (!entity.has_value()) {
        return Fail("invalid entity '" + prefix + "' in " + Describe(first) +
                    "; expected metrics, params, tags, attributes or "
                    "datasets");
      }
      const bool allowed =
          prefix == "run" ? (dialect_.entities & kRunPrefix) != 0
          : *entity == Entity::kMetric  ? (dialect_.entities & kMetrics) != 0
          : *entity == Entity::kParam   ? (dialect_.entities & kParams) != 0
          : *entity == Entity::kDataset ? (dialect_.entities & kDatasets) != 0
                                        : true;
      if (!allowed) {
        return Fail("entity '" + prefix + "' in " + Describe(first) +
                    " is not supported when searching " + std::string(dialect_.searched) + "s");
      }
      id.entity = *entity;
      id.key = first.text.substr(dot + 1);
      if (id.key.empty()) {
        const Token& quoted = Peek();
        if (quoted.kind != TokenKind::kString || quoted.quote == '\'' || quoted.spaced) {
          return Fail("expected a backtick- or double-quoted key right after " + Describe(first) +
                      ", got " + Describe(quoted));
        }
        Advance();
        id.key = quoted.text;
        end = quoted.pos + quoted.len;
      }
    }
    id.raw = RawSpan(first.pos, end);
  } else {
    return Fail("expected an identifier, got " + Describe(first));
  }
  if (id.key.empty()) return Fail("empty key in '" + id.raw + "'");
  return id;
}

const AttrInfo* Parser::FindAttr(std::string_view name, bool for_order) const {
  for (const AttrInfo& attr : dialect_.attrs) {
    if (attr.name == name && (for_order ? attr.orderable : attr.filterable)) {
      return &attr;
    }
  }
  return nullptr;
}

std::string Parser::AttrNames(bool for_order) const {
  std::string names;
  for (const AttrInfo& attr : dialect_.attrs) {
    if (!(for_order ? attr.orderable : attr.filterable)) continue;
    if (!names.empty()) names += ", ";
    names += attr.name;
  }
  return names;
}

Status Parser::ParseInList(std::vector<std::string>* values) {
  if (Peek().kind != TokenKind::kLParen) {
    return Fail("expected '(' to start the IN list, got " + Describe(Peek()));
  }
  Advance();
  while (true) {
    const Token& value = Peek();
    if (value.kind != TokenKind::kString || value.quote == '`') {
      if (values->empty() && value.kind == TokenKind::kRParen) {
        return Fail("empty IN list; expected a quoted string, got " + Describe(value));
      }
      return Fail("expected a quoted string in the IN list, got " + Describe(value));
    }
    Advance();
    values->push_back(value.text);
    const Token& sep = Advance();
    if (sep.kind == TokenKind::kRParen) return Status::Ok();
    if (sep.kind != TokenKind::kComma) {
      return Fail("expected ',' or ')' in the IN list, got " + Describe(sep));
    }
  }
}

Result<Clause> Parser::ParseClause() {
  ASSIGN_OR_RETURN(Identifier id, ParseIdentifier());
  const std::string subject = "'" + id.raw + "'";
  Clause clause;
  clause.entity = id.entity;
  bool numeric = false;
  bool allow_in = false;
  switch (id.entity) {
    case Entity::kMetric:
      numeric = true;
      clause.key = id.key;
      break;
    case Entity::kParam:
    case Entity::kTag:
      clause.key = id.key;
      break;
    case Entity::kDataset:
      if (id.key != "name" && id.key != "digest" && id.key != "context") {
        return Fail("invalid dataset key '" + id.key + "'; expected name, digest or context");
      }
      clause.key = id.key;
      allow_in = true;
      break;
    case Entity::kAttribute: {
      const AttrInfo* attr = FindAttr(id.key, /*for_order=*/false);
      if (attr == nullptr) {
        return Fail("invalid attribute key '" + id.key + "'; expected one of " +
                    AttrNames(/*for_order=*/false));
      }
      clause.key = std::string(attr->canonical);
      numeric = attr->numeric;
      allow_in = attr->in_list;
      break;
    }
  }

  const Token& op_token = Advance();
  std::string op_raw;
  if (op_token.kind == TokenKind::kOp) {
    const std::string& op = op_token.text;
    clause.op = op == "="    ? Comparator::kEq
                : op == "!=" ? Comparator::kNe
                : op == "<"  ? Comparator::kLt
                : op == "<=" ? Comparator::kLe
                : op == ">"  ? Comparator::kGt
                             : Comparator::kGe;
    op_raw = op;
  } else if (op_token.kind == TokenKind::kWord && ToLower(op_token.text) == "like") {
    clause.op = Comparator::kLike;
    op_raw = op_token.text;
  } else if (op_token.kind == TokenKind::kWord && ToLower(op_token.text) == "ilike") {
    clause.op = Comparator::kILike;
    op_raw = op_token.text;
  } else if (op_token.kind == TokenKind::kWord && ToLower(op_token.text) == "in") {
    clause.op = Comparator::kIn;
    op_raw = op_token.text;
  } else if (op_token.kind == TokenKind::kWord && ToLower(op_token.text) == "not") {
    if (!PeekKeyword("in")) {
      return Fail("expected IN after " + Describe(op_token) + ", got " + Describe(Peek()));
    }
    const Token& in_token = Advance();
    clause.op = Comparator::kNotIn;
    op_raw = RawSpan(op_token.pos, in_token.pos + in_token.len);
  } else {
    return Fail("expected a comparator after " + subject + ", got " + Describe(op_token));
  }

  if (numeric && !IsNumericComparator(clause.op)) {
    return Fail("comparator '" + op_raw + "' cannot be used with numeric key " + subject +
                "; expected one of =, !=, <, <=, >, >=");
  }
  if (!numeric && !IsStringComparator(clause.op, allow_in)) {
    return Fail("comparator '" + op_raw + "' cannot be used with " + subject +
                "; expected one of =, !=, LIKE, ILIKE" + (allow_in ? ", IN, NOT IN" : ""));
  }

  clause.numeric = numeric;
  if (clause.op == Comparator::kIn || clause.op == Comparator::kNotIn) {
    RETURN_IF_ERROR(ParseInList(&clause.values));
    return clause;
  }
  const Token& value = Advance();
  if (numeric) {
    std::optional<double> number;
    if (value.kind == TokenKind::kNumber ||
        (dialect_.quoted_numbers && value.kind == TokenKind::kString && value.quote != '`')) {
      number = ParseDouble(value.text);
    }
    if (!number.has_value() || !std::isfinite(*number)) {
      return Fail("expected a number to compare " + subject + " with, got " + Describe(value));
    }
    clause.number_value = *number;
  } else {
    if (value.kind != TokenKind::kString || value.quote == '`') {
      return Fail("expected a quoted string to compare " + subject + " with, got " +
                  Describe(value));
    }
    clause.string_value = value.text;
  }
  return clause;
}

Result<std::vector<Clause>> Parser::ParseFilter() {
  RETURN_IF_ERROR(Lex());
  std::vector<Clause> clauses;
  if (Peek().kind == TokenKind::kEnd) return clauses;
  while (true) {
    ASSIGN_OR_RETURN(Clause clause, ParseClause());
    clauses.push_back(std::move(clause));
    const Token& token = Peek();
    if (token.kind == TokenKind::kEnd) return clauses;
    if (PeekKeyword("and")) {
      Advance();
      continue;
    }
    if (PeekKeyword("or")) {
      return Fail("operator " + Describe(token) + " is not supported; join clauses with AND");
    }
    return Fail("expected AND or end of input, got " + Describe(token));
  }
}

Result<OrderKey> Parser::ParseOrderBy() {
  RETURN_IF_ERROR(Lex());
  ASSIGN_OR_RETURN(Identifier id, ParseIdentifier());
  OrderKey key;
  key.entity = id.entity;
  switch (id.entity) {
    case Entity::kMetric:
    case Entity::kParam:
    case Entity::kTag:
      // Experiments can only be ordered by their attributes.
      if (!dialect_.order_by_keys) {
        return Fail("cannot order " + std::string(dialect_.searched) + "s by '" + id.raw + "'");
      }
      key.key = id.key;
      break;
    case Entity::kDataset:
      return Fail("cannot order by dataset key '" + id.raw + "'");
    case Entity::kAttribute: {
      const AttrInfo* attr = FindAttr(id.key, /*for_order=*/true);
      if (attr == nullptr) {
        return Fail("invalid attribute key '" + id.key + "'; expected one of " +
                    AttrNames(/*for_order=*/true));
      }
      key.key = std::string(attr->canonical);
      break;
    }
  }
  bool has_direction = false;
  if (PeekKeyword("asc") || PeekKeyword("desc")) {
    key.ascending = ToLower(Advance().text) == "asc";
    has_direction = true;
  }
  if (Peek().kind != TokenKind::kEnd) {
    return Fail("unexpected " + Describe(Peek()) + "; expected " +
                (has_direction ? "end of input" : "ASC, DESC or end of input"));
  }
  return key;
}

std::string FilterPrefix(std::string_view filter) {
  return "invalid filter '" + std::string(filter) + "': ";
}

std::string OrderByPrefix(std::string_view order_by) {
  return "invalid order_by clause '" + std::string(order_by) + "': ";
}

}  // namespace

Result<std::vector<Clause>> ParseRunFilter(std::string_view filter) {
  return Parser(filter, FilterPrefix(filter), kRunDialect).ParseFilter();
}

Result<OrderKey> ParseRunOrderBy(std::string_view order_by) {
  return Parser(order_by, OrderByPrefix(order_by), kRunDialect).ParseOrderBy();
}

Result<std::vector<Clause>> ParseExperimentFilter(std::string_view filter) {
  return Parser(filter, FilterPrefix(filter), kExperimentDialect).ParseFilter();
}

Result<OrderKey> ParseExperimentOrderBy(std::string_view order_by) {
  return Parser(order_by, OrderByPrefix(order_by), kExperimentDialect).ParseOrderBy();
}

Result<std::vector<Clause>> ParseRegisteredModelFilter(std::string_view filter) {
  return Parser(filter, FilterPrefix(filter), kRegisteredModelDialect).ParseFilter();
}

Result<OrderKey> ParseRegisteredModelOrderBy(std::string_view order_by) {
  return Parser(order_by, OrderByPrefix(order_by), kRegisteredModelDialect).ParseOrderBy();
}

Result<std::vector<Clause>> ParseModelVersionFilter(std::string_view filter) {
  return Parser(filter, FilterPrefix(filter), kModelVersionDialect).ParseFilter();
}

Result<OrderKey> ParseModelVersionOrderBy(std::string_view order_by) {
  return Parser(order_by, OrderByPrefix(order_by), kModelVersionDialect).ParseOrderBy();
}

Result<std::vector<Clause>> ParseLoggedModelFilter(std::string_view filter) {
  return Parser(filter, FilterPrefix(filter), kLoggedModelDialect).ParseFilter();
}

bool ClauseMatches(const Clause& c, const std::optional<std::string>& value) {
  if (!value) return false;  // an absent tag or param matches nothing, not even !=
  if (c.numeric) {
    std::optional<double> v = ParseDouble(*value);
    if (!v) return false;
    switch (c.op) {
      case Comparator::kEq: return *v == c.number_value;
      case Comparator::kNe: return *v != c.number_value;
      case Comparator::kLt: return *v < c.number_value;
      case Comparator::kLe: return *v <= c.number_value;
      case Comparator::kGt: return *v > c.number_value;
      case Comparator::kGe: return *v >= c.number_value;
      default: return false;
    }
  }
  switch (c.op) {
    case Comparator::kEq: return *value == c.string_value;
    case Comparator::kNe: return *value != c.string_value;
    case Comparator::kLike: return LikeMatch(*value, c.string_value, false);
    case Comparator::kILike: return LikeMatch(*value, c.string_value, true);
    case Comparator::kIn:
    case Comparator::kNotIn: {
      bool in = std::find(c.values.begin(), c.values.end(), *value) != c.values.end();
      return c.op == Comparator::kIn ? in : !in;
    }
    default: return false;
  }
}

}  // namespace ringo::store
