// libFuzzer target: arbitrary bytes as a GraphQL query (and as its variables) executed against
// a small schema with arguments, enums, lists, nested objects and a resolver.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/graphql.h"

namespace {

using namespace ringo::api::graphql;

ringo::Result<std::string> Resolve(const ResolveContext& ctx) {
  return "{\"items\":[{\"name\":\"a\",\"size\":3,\"tags\":[{\"key\":\"k\"}]},{\"size\":\"x\"}],"
         "\"echo\":" + ctx.Arg("input") + "}";
}

constexpr TypeRef kStr{.kind = Kind::kString};
constexpr std::string_view kColors[] = {"RED", "BLUE"};
constexpr EnumType kEnums[] = {{"Color", kColors}};
constexpr FieldDef kTag[] = {{"key", kStr}, {"value", kStr}};
constexpr FieldDef kItem[] = {{"name", kStr},
                              {"size", {.kind = Kind::kLong}},
                              {"tags", {.kind = Kind::kObject, .object = "Tag", .list = true}},
                              {.name = "more", .type = {.kind = Kind::kObject, .object = "Page"},
                               .resolve = Resolve}};
constexpr FieldDef kPage[] = {{"items", {.kind = Kind::kObject, .object = "Item", .list = true}},
                              {"echo", {.kind = Kind::kObject, .object = "Tag"}}};
constexpr InputField kInput[] = {{"ids", {.kind = Kind::kString, .list = true}},
                                 {"n", {.kind = Kind::kInt}},
                                 {"color", {.kind = Kind::kEnum, .object = "Color"}},
                                 {"inner", {.kind = Kind::kObject, .object = "Input"}}};
constexpr ArgDef kArgs[] = {{"input", {.kind = Kind::kObject, .object = "Input"}}};
constexpr FieldDef kQuery[] = {{.name = "page", .type = {.kind = Kind::kObject, .object = "Page"},
                                .resolve = Resolve, .args = kArgs}};
constexpr ObjectType kObjects[] = {
    {"Query", kQuery}, {"Page", kPage}, {"Item", kItem}, {"Tag", kTag}};
constexpr InputType kInputs[] = {{"Input", kInput}};
constexpr Schema kSchema{.objects = kObjects, .inputs = kInputs, .enums = kEnums,
                         .query = "Query", .mutation = "Query"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)Execute(kSchema, text, "", "", nullptr);
  (void)Execute(kSchema, "query Q($v: Input) { page(input: $v) { items { name } } }", text, "Q",
                nullptr);
  return 0;
}
