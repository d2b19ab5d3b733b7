// Readable names for runs created without one.
#include "store/run_names.h"

#include <array>
#include <random>
#include <string_view>

namespace ringo::store {

namespace {
constexpr std::array<std::string_view, 24> kAdjectives = {
    "amber", "bold",   "brave", "bright", "calm",  "clever", "crisp",  "eager",
    "fast",  "gentle", "glad",  "keen",   "lucid", "merry",  "nimble", "proud",
    "quick", "quiet",  "rapid", "silent", "sharp", "steady", "swift",  "vivid"};
constexpr std::array<std::string_view, 24> kAnimals = {
    "badger", "bee",   "crane", "deer",  "eagle", "falcon", "fox",   "gecko",
    "heron",  "ibis",  "koala", "lark",  "lynx",  "mole",   "newt",  "otter",
    "owl",    "panda", "quail", "robin", "seal",  "swan",   "tapir", "wren"};
}  // namespace

std::string GenerateRunName() {
  thread_local std::mt19937 gen{std::random_device{}()};
  std::uniform_int_distribution<size_t> a(0, kAdjectives.size() - 1), b(0, kAnimals.size() - 1);
  std::uniform_int_distribution<int> n(0, 999);
  return std::string(kAdjectives[a(gen)]) + "-" + std::string(kAnimals[b(gen)]) + "-" +
         std::to_string(n(gen));
}

}  // namespace ringo::store
