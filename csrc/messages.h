// How a refusal names a dtype or a tensor, in the words the Python side uses
// (torch.float32, not Float), so that the compiled ops, their fake kernels
// and the reference refuse a bad argument in one sentence
// (tests/helpers.py: refused_alike holds every refusal of every op to that).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace mixup {

// "torch.float32": what str(dtype) prints in Python.
std::string dtype_name(at::ScalarType t);

// "torch.float32 tensor of shape [4, 3] on cpu": _validation._describe.
std::string describe(const at::Tensor& t);

// A float argument as Python's repr writes it: the shortest digits that read
// back exactly, and "1.0", not "1", for a whole number.
std::string number(double v);

// A list of them: "[0.2, 1.0]".
std::string numbers(c10::ArrayRef<double> values);

}  // namespace mixup
