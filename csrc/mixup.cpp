// The one definition of the `mixup` operator library, from the schemas in
// mixup_schemas.def (which mixup_ext/_contract.py also reads). Kernels are
// registered per backend in cpu/ and cuda/, autograd in autograd/ (C++, under
// the Autograd key); fake (meta) kernels are registered from Python, in
// mixup_ext/_registrations.py. ops.h is the C++ API over these schemas.
#include <torch/library.h>

#include <string>

#include "cpu/isa.h"
#include "row_tile.h"
#include "value_checks.h"

namespace mixup::schema {
#define MIXUP_OP(name, tags, text) constexpr const char name[] = text;
#include "mixup_schemas.def"
#undef MIXUP_OP
}  // namespace mixup::schema

TORCH_LIBRARY(mixup, m) {
#define MIXUP_DEFINE_PT2(name) m.def(mixup::schema::name, {at::Tag::pt2_compliant_tag});
#define MIXUP_DEFINE_PT2_SEEDED(name) \
  m.def(mixup::schema::name, {at::Tag::pt2_compliant_tag, at::Tag::nondeterministic_seeded});
#define MIXUP_DEFINE_HOST(name)  // below, with its implementation
#define MIXUP_OP(name, tags, text) MIXUP_DEFINE_##tags(name)
#include "mixup_schemas.def"
#undef MIXUP_OP

  m.def(mixup::schema::_cpu_vector_isa, [] { return std::string(mixup::cpu::isa_name(mixup::cpu::active_isa())); });
  m.def(mixup::schema::_set_value_checks, [](bool enabled) { return mixup::set_value_checks(enabled); });
  m.def(mixup::schema::_set_cuda_tile, [](c10::string_view tile) { return mixup::set_row_tile(tile); });
}
