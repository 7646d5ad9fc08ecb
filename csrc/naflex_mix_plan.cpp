// Validation, allocation and the work layout of mixup::naflex_mix, shared by
// both backends. The refusals are word for word those of
// mixup_ext/_validation.py: check_naflex_mix (the fake and reference kernels').
#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "dtypes.h"
#include "messages.h"
#include "naflex_mix.h"

namespace mixup {
namespace {

void check_images(const char* op, at::TensorList images) {
  for (size_t k = 0; k < images.size(); ++k) {
    const at::Tensor& img = images[k];
    TORCH_CHECK_VALUE(img.dim() == 3, op, ": images[", k, "] must be one (C, H, W) image, got ", describe(img));
    TORCH_CHECK_VALUE(is_sample_dtype(img.scalar_type()), op, ": images[", k, "] must be ", kSampleNames, ", got ",
                      describe(img));
    if (k == 0) continue;
    const at::Tensor& first = images[0];
    TORCH_CHECK_VALUE(
        img.scalar_type() == first.scalar_type() && img.device() == first.device() && img.size(0) == first.size(0), op,
        ": every image must have images[0]'s dtype, device and channel count (", describe(first), "), images[", k,
        "] is a ", describe(img));
  }
}

void check_pair_arguments(const char* op, int64_t count, const at::Tensor& pairs, const at::Tensor& lam,
                          const at::Tensor& box) {
  TORCH_CHECK_VALUE(
      pairs.device().is_cpu() && pairs.scalar_type() == at::kLong && pairs.dim() == 2 && pairs.size(1) == 2, op,
      ": pairs must be a (P, 2) torch.int64 tensor on the CPU, got ", describe(pairs));
  const int64_t p = pairs.size(0);
  TORCH_CHECK_VALUE(
      lam.device().is_cpu() && at::isFloatingType(lam.scalar_type()) && lam.dim() == 1 && lam.size(0) == p, op,
      ": lam must be a (", p, ",) floating tensor on the CPU (one weight per pair), got ", describe(lam));
  TORCH_CHECK_VALUE(
      box.device().is_cpu() && box.scalar_type() == at::kLong && box.dim() == 2 && box.size(0) == p && box.size(1) == 6,
      op, ": box must be a (", p, ", 6) torch.int64 tensor on the CPU, got ", describe(box));
  TORCH_CHECK_VALUE(2 * p <= count, op, ": pairs has ", p, " rows, but ", count, " images make at most ", count / 2,
                    " pairs");
}

// Where a side of a pair sits: the overlap's corner in the image, as timm's
// mix_batch_variable_size centres it.
void place_overlap(NaFlexImage& img, int64_t oh, int64_t ow) {
  img.overlap_height = oh;
  img.overlap_width = ow;
  img.overlap_top = (img.height - oh) / 2;
  img.overlap_left = (img.width - ow) / 2;
}

NaFlexPair plan_pair(const char* op, int64_t p, const int64_t* ij, double lam, const int64_t* b,
                     std::vector<NaFlexImage>& images, std::vector<char>& taken) {
  const int64_t count = static_cast<int64_t>(images.size());
  NaFlexPair pair{};
  for (int s = 0; s < 2; ++s) {
    const int64_t k = ij[s];
    TORCH_CHECK_VALUE(k >= 0 && k < count, op, ": pairs[", p, "] = [", ij[0], ", ", ij[1],
                      "] must index images in [0, ", count, ")");
    TORCH_CHECK_VALUE(!taken[k], op, ": pairs: image ", k,
                      " is in more than one pair (each image mixes with one "
                      "partner, and both of a pair's outputs are written at once)");
    taken[k] = 1;
    pair.image[s] = k;
  }
  TORCH_CHECK_VALUE(std::isfinite(lam) && lam >= 0.0 && lam <= 1.0, op, ": lam[", p, "] must be in [0, 1], got ",
                    number(lam));
  pair.lam = lam;
  NaFlexImage& image_i = images[pair.image[0]];
  NaFlexImage& image_j = images[pair.image[1]];
  pair.height = std::min(image_i.height, image_j.height);
  pair.width = std::min(image_i.width, image_j.width);
  place_overlap(image_i, pair.height, pair.width);
  place_overlap(image_j, pair.height, pair.width);

  const bool blend = b[0] == Box::kNoBox;
  if (blend) {
    bool all_marked = true;
    for (int q = 1; q < 6; ++q) all_marked = all_marked && b[q] == Box::kNoBox;
    TORCH_CHECK_VALUE(all_marked, op, ": box[", p,
                      "] must be all -1 (a blend) or [h, w, y_i, x_i, y_j, x_j] (a "
                      "paste), got a row that starts with -1 but is not all -1");
    pair.box_height = Box::kNoBox;
    return pair;
  }
  const bool fits = b[0] >= 0 && b[1] >= 0 && b[0] <= pair.height && b[1] <= pair.width && b[2] >= 0 && b[3] >= 0 &&
                    b[4] >= 0 && b[5] >= 0 && b[2] + b[0] <= pair.height && b[4] + b[0] <= pair.height &&
                    b[3] + b[1] <= pair.width && b[5] + b[1] <= pair.width;
  TORCH_CHECK_VALUE(fits, op, ": box[", p, "] = [", b[0], ", ", b[1], ", ", b[2], ", ", b[3], ", ", b[4], ", ", b[5],
                    "] must place an h x w box inside the pair's ", pair.height, " x ", pair.width,
                    " overlap at both corners");
  pair.box_height = b[0];
  pair.box_width = b[1];
  pair.box_top[0] = b[2];
  pair.box_left[0] = b[3];
  pair.box_top[1] = b[4];
  pair.box_left[1] = b[5];
  return pair;
}

}  // namespace

NaFlexPlan plan_naflex_mix(const char* op, at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                           const at::Tensor& box, bool in_place) {
  check_images(op, images);
  const int64_t count = static_cast<int64_t>(images.size());
  check_pair_arguments(op, count, pairs, lam, box);

  NaFlexPlan plan;
  plan.in_place = in_place;
  if (count > 0) {
    plan.dtype = images[0].scalar_type();
    plan.device = images[0].device();
  }
  plan.images.reserve(count);
  if (!in_place) plan.outputs.reserve(count);
  for (const at::Tensor& img : images) {
    NaFlexImage v{};
    v.in = img.const_data_ptr();
    v.channels = img.size(0);
    v.height = img.size(1);
    v.width = img.size(2);
    if (in_place) {
      v.out = img.data_ptr();
    } else {
      plan.outputs.push_back(at::empty_like(img));
      v.out = plan.outputs.back().data_ptr();
    }
    const at::Tensor& out = in_place ? img : plan.outputs.back();
    for (int d = 0; d < 3; ++d) {
      v.in_stride[d] = img.stride(d);
      v.out_stride[d] = out.stride(d);
    }
    plan.dense_columns = plan.dense_columns && (v.width <= 1 || (v.in_stride[2] == 1 && v.out_stride[2] == 1));
    plan.images.push_back(v);
  }

  const at::Tensor pairs_c = pairs.contiguous();
  const at::Tensor lam_c = lam.to(at::kDouble).contiguous();
  const at::Tensor box_c = box.contiguous();
  const int64_t* ij = pairs_c.const_data_ptr<int64_t>();
  const double* weights = lam_c.const_data_ptr<double>();
  const int64_t* boxes = box_c.const_data_ptr<int64_t>();
  std::vector<char> taken(count, 0);
  const int64_t p = pairs.size(0);
  plan.pairs.reserve(p);
  for (int64_t q = 0; q < p; ++q) {
    plan.pairs.push_back(plan_pair(op, q, ij + 2 * q, weights[q], boxes + 6 * q, plan.images, taken));
  }

  // Units: each pair's overlap rows (every channel), then, unless in place,
  // each image's rows outside its overlap.
  plan.unit_starts.reserve(p + count + 1);
  int64_t total = 0;
  for (const NaFlexPair& pair : plan.pairs) {
    plan.unit_starts.push_back(total);
    total += plan.images[pair.image[0]].channels * pair.height;
  }
  for (const NaFlexImage& img : plan.images) {
    plan.unit_starts.push_back(total);
    if (!in_place) total += img.channels * img.copy_rows();
  }
  plan.unit_starts.push_back(total);
  return plan;
}

}  // namespace mixup
