// The protobuf classes of ringo's Core ML schema (proto/model.proto, proto/mil.proto): the one
// header besides coreml.h that other components (the converter) may include.
#ifndef RINGO_COREML_SCHEMA_H_
#define RINGO_COREML_SCHEMA_H_

#include "coreml/blob.h"
#include "model.pb.h"  // generated in the build tree

#endif  // RINGO_COREML_SCHEMA_H_
