// Readable names for runs created without one ("brave-otter-417").
#ifndef RINGO_STORE_RUN_NAMES_H_
#define RINGO_STORE_RUN_NAMES_H_

#include <string>

namespace ringo::store {

// Returns "<adjective>-<animal>-<number>". Thread-safe.
std::string GenerateRunName();

}  // namespace ringo::store

#endif  // RINGO_STORE_RUN_NAMES_H_
