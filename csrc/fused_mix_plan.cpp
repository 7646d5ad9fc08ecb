// Validation, layout and allocation shared by the CPU and CUDA backends.
#include "fused_mix.h"
#include "dtypes.h"
#include "messages.h"
#include "value_checks.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>
#include <tuple>

namespace mixup {
namespace {

// Every layout a kernel reads is "B dense rows with one shared layout".
// Contiguous and channels_last inputs already are, and keep their format; so
// is a batch slice such as x[::2] (its rows are contiguous). Anything else is
// copied once to contiguous, which is the contract's output format for it.
DenseRows dense_rows(const at::Tensor& t) {
  const int64_t row_numel = t.size(0) == 0 ? 0 : t.numel() / t.size(0);
  if (t.is_contiguous()) {
    return {t, at::MemoryFormat::Contiguous, row_numel};
  }
  if (t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    return {t, at::MemoryFormat::ChannelsLast, row_numel};
  }
  if (t.dim() == 5 && t.is_contiguous(at::MemoryFormat::ChannelsLast3d)) {
    return {t, at::MemoryFormat::ChannelsLast3d, row_numel};
  }
  if (t.size(0) > 0 && t.select(0, 0).is_contiguous()) {
    return {t, at::MemoryFormat::Contiguous, t.stride(0)};
  }
  return {t.contiguous(), at::MemoryFormat::Contiguous, row_numel};
}

RowGeometry geometry_of(const at::Tensor& out) {
  const int64_t batch = out.size(0);
  const int64_t numel = batch == 0 ? 0 : out.numel() / batch;
  if (out.dim() < 3) {
    return RowGeometry{numel, 1, 1, 1};
  }
  // `out` has canonical strides for its format, so dim -1 gives the column
  // stride, and dim -2's stride is always width * w_stride (see RowGeometry).
  return RowGeometry{numel, out.size(-2), out.size(-1), out.stride(-1)};
}

void check_device(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x) {
  TORCH_CHECK_VALUE(t.device() == x.device(), op, ": ", name, " must be on the same device as x (", x.device(),
                    "), got ", t.device());
}

void check_rows_tensor(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK_VALUE(t.dim() >= 1, op, ": ", name, " must have a batch dimension (B, ...), got a 0-d tensor");
  TORCH_CHECK_VALUE(is_data_float(t.scalar_type()), op, ": ", name, " must be ", kFloatNames, ", got ", describe(t));
}

// Checks index, lam and box against the rows tensor `x` and fills the plan's
// shared part, with lam in the accumulation dtype `acc`. The geometry comes
// from the allocated output.
RowMixPlan plan_mix(const char* op, const at::Tensor& x, const at::Tensor& index, const at::Tensor& lam,
                    const std::optional<at::Tensor>& box, at::ScalarType acc) {
  const int64_t batch = x.size(0);

  check_device(op, "index", index, x);
  TORCH_CHECK_VALUE(index.scalar_type() == at::kLong && index.dim() == 1 && index.size(0) == batch, op,
                    ": index must be an int64 tensor of shape (B,) = (", batch, ",), got ", describe(index));

  check_device(op, "lam", lam, x);
  TORCH_CHECK_VALUE(
      at::isFloatingType(lam.scalar_type()) && (lam.dim() == 0 || (lam.dim() == 1 && lam.size(0) == batch)), op,
      ": lam must be a floating tensor of shape () or (B,) = (", batch, ",), got ", describe(lam));
  if (reads_values(lam)) check_lam_values(op, lam);

  RowMixPlan plan;
  plan.batch = batch;
  plan.index = index;
  plan.lam = lam.to(acc);
  if (box.has_value() && box->defined()) {
    const at::Tensor& b = *box;
    check_device(op, "box", b, x);
    TORCH_CHECK_VALUE(x.dim() >= 3, op, ": box needs x with at least 3 dims (B, ..., H, W), got x of shape ",
                      x.sizes());
    TORCH_CHECK_VALUE(b.scalar_type() == at::kLong &&
                          ((b.dim() == 1 && b.size(0) == 4) || (b.dim() == 2 && b.size(0) == batch && b.size(1) == 4)),
                      op, ": box must be an int64 tensor of shape (4,) or (B, 4) = (", batch,
                      ", 4) with rows [y0, y1, x0, x1], got ", describe(b));
    plan.box = b.stride(-1) == 1 ? b : b.contiguous();
  }
  return plan;
}

bool given(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// One value per channel (dim 1 of x), on x's device, as a contiguous (C,)
// tensor in the accumulation dtype (a no-op for what mixup_ext.fused_mix passes).
at::Tensor per_channel(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x, at::ScalarType acc) {
  TORCH_CHECK_VALUE(x.dim() >= 2, op, ": ", name,
                    " normalises per channel (dim 1), so x needs at least 2 dims (B, C, ...), got x of shape ",
                    x.sizes());
  check_device(op, name, t, x);
  TORCH_CHECK_VALUE(at::isFloatingType(t.scalar_type()) && t.dim() == 1 && t.size(0) == x.size(1), op, ": ", name,
                    " must be a floating tensor with one value per channel, of shape (C,) = (", x.size(1), ",), got ",
                    describe(t));
  return t.to(acc).contiguous();
}

// mean and std of the output's normalisation, both or neither defined: one
// given alone gets the other's identity (0 or 1), so the kernels have one path.
void plan_normalize(const char* op, RowMixPlan& plan, const at::Tensor& x, const at::Tensor& out,
                    const std::optional<at::Tensor>& mean, const std::optional<at::Tensor>& std, at::ScalarType acc) {
  if (!given(mean) && !given(std)) return;
  plan.mean = given(mean) ? per_channel(op, "mean", *mean, x, acc) : at::zeros({x.size(1)}, x.options().dtype(acc));
  plan.std = given(std) ? per_channel(op, "std", *std, x, acc) : at::ones({x.size(1)}, x.options().dtype(acc));
  // `out` has canonical strides for its format, so stride(1) is the channel step.
  plan.channels = ChannelGeometry{out.stride(1), out.size(1)};
}

void check_smoothing_and_classes(int64_t num_classes, double smoothing) {
  TORCH_CHECK_VALUE(num_classes > 0, "mixup::fused_mix: num_classes must be > 0, got ", num_classes);
  TORCH_CHECK_VALUE(smoothing >= 0.0 && smoothing <= 1.0,  // also refuses NaN
                    "mixup::fused_mix: smoothing must be in [0, 1], got ", number(smoothing));
}

// The target side of the plan. No target: an empty (B, 0) output and no
// target work at all (the kernels see num_classes == 0).
TargetArgs plan_targets(const at::Tensor& x, const std::optional<at::Tensor>& maybe_target, int64_t num_classes,
                        double smoothing, at::Tensor& out_target) {
  const int64_t batch = x.size(0);
  TargetArgs args{};
  if (!maybe_target.has_value() || !maybe_target->defined()) {
    out_target = at::empty({batch, 0}, x.options().dtype(at::kFloat));
    args.out = out_target.mutable_data_ptr();
    args.out_dtype = at::kFloat;
    return args;
  }
  const at::Tensor& target = *maybe_target;
  check_smoothing_and_classes(num_classes, smoothing);
  check_device("mixup::fused_mix", "target", target, x);
  const bool labels = target.scalar_type() == at::kLong && target.dim() == 1 && target.size(0) == batch;
  const bool soft = is_data_float(target.scalar_type()) && target.dim() == 2 && target.size(0) == batch &&
                    target.size(1) == num_classes;
  TORCH_CHECK_VALUE(labels || soft, "mixup::fused_mix: target must be int64 class ids of shape (B,) = (", batch,
                    ",) or floating soft targets of shape (B, num_classes) = (", batch, ", ", num_classes, "), got ",
                    describe(target));

  const at::ScalarType out_dtype = labels ? at::kFloat : target.scalar_type();
  out_target = at::empty({batch, num_classes}, x.options().dtype(out_dtype));

  args.labels = labels ? target.const_data_ptr<int64_t>() : nullptr;
  args.label_stride = labels ? target.stride(0) : 0;
  args.soft = soft ? target.const_data_ptr() : nullptr;
  args.soft_dtype = target.scalar_type();
  args.soft_stride0 = soft ? target.stride(0) : 0;
  args.soft_stride1 = soft ? target.stride(1) : 0;
  args.out = out_target.mutable_data_ptr();
  args.out_dtype = out_dtype;
  args.num_classes = num_classes;
  args.smoothing = smoothing;
  return args;
}

// What the forward (of x) and the backward (of grad) plan alike once the mix
// is planned: the input viewed as dense rows, and the output allocated in the
// input's layout, of `out_type`, with its per-channel normalisation.
// Returns (rows, out).
std::tuple<at::Tensor, at::Tensor> plan_rows(const char* op, RowMixPlan& mix, const at::Tensor& in,
                                             at::ScalarType out_type, const std::optional<at::Tensor>& mean,
                                             const std::optional<at::Tensor>& std, at::ScalarType acc) {
  const DenseRows rows = dense_rows(in);
  mix.batch_stride = rows.batch_stride;
  at::Tensor out = at::empty(in.sizes(), in.options().dtype(out_type).memory_format(rows.format));
  mix.geometry = geometry_of(out);
  plan_normalize(op, mix, in, out, mean, std, acc);
  return {rows.rows, out};
}

}  // namespace

ForwardPlan plan_forward(const at::Tensor& x, const std::optional<at::Tensor>& target, const at::Tensor& index,
                         const at::Tensor& lam, const std::optional<at::Tensor>& box, int64_t num_classes,
                         double smoothing, const std::optional<at::Tensor>& mean, const std::optional<at::Tensor>& std,
                         std::optional<at::ScalarType> out_dtype) {
  constexpr const char* op = "mixup::fused_mix";
  TORCH_CHECK_VALUE(x.dim() >= 1, op, ": x must have a batch dimension (B, ...), got a 0-d tensor");
  TORCH_CHECK_VALUE(x.scalar_type() == at::kByte || is_data_float(x.scalar_type()), op, ": x must be uint8, ",
                    kFloatNames, ", got ", describe(x));
  // uint8 samples mix into float32 unless asked otherwise; floats keep their dtype.
  const at::ScalarType out_type = out_dtype.value_or(x.scalar_type() == at::kByte ? at::kFloat : x.scalar_type());
  TORCH_CHECK_VALUE(is_data_float(out_type), op, ": out_dtype must be torch.", kFloatNames, ", got ",
                    dtype_name(out_type));
  const at::ScalarType acc = accumulation_dtype(x.scalar_type(), out_type);

  ForwardPlan plan;
  plan.mix = plan_mix(op, x, index, lam, box, acc);
  std::tie(plan.x_rows, plan.out) = plan_rows(op, plan.mix, x, out_type, mean, std, acc);
  plan.target = target.value_or(at::Tensor());
  plan.target_args = plan_targets(x, target, num_classes, smoothing, plan.out_target);
  check_values(plan);
  return plan;
}

BackwardPlan plan_backward(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                           const std::optional<at::Tensor>& box, double scale, const std::optional<at::Tensor>& std) {
  constexpr const char* op = "mixup::_fused_mix_backward";
  check_rows_tensor(op, "grad", grad);

  BackwardPlan plan;
  const at::ScalarType acc = accumulation_dtype(grad.scalar_type());
  plan.mix = plan_mix(op, grad, index, lam, box, acc);
  // d/dv of (v - mean) / std is 1 / std: the backward divides by std alone.
  std::tie(plan.grad_rows, plan.grad_input) = plan_rows(op, plan.mix, grad, grad.scalar_type(), std::nullopt, std, acc);
  plan.scale = scale;

  plan.order = at::empty({plan.mix.batch}, index.options());
  plan.offsets = at::empty({plan.mix.batch + 1}, plan.order.options());
  check_values(op, plan.mix);
  return plan;
}

void fill_readers_by_sort(const BackwardPlan& plan) {
  // Stable: the rows that read row j sit next to each other in increasing order.
  const auto sorted = at::sort(plan.mix.index, /*stable=*/true, /*dim=*/0, /*descending=*/false);
  plan.order.copy_(std::get<1>(sorted));
  at::Tensor offsets = plan.offsets;  // a handle to the same storage
  at::searchsorted_out(offsets, std::get<0>(sorted), at::arange(plan.mix.batch + 1, plan.mix.index.options()));
}

void check_values(const char* op, const RowMixPlan& mix) {
  if (!reads_values(mix.index)) return;
  const int64_t batch = mix.batch;
  // Host copies (the tensors themselves on the CPU): on a GPU, with value
  // checks on, each .cpu() waits for the device.
  const at::Tensor index_values = mix.index.cpu();
  const auto index = index_values.accessor<int64_t, 1>();
  for (int64_t i = 0; i < batch; ++i) {
    TORCH_CHECK_VALUE(index[i] >= 0 && index[i] < batch, op, ": index values must be in [0, B) = [0, ", batch,
                      "), found ", index[i], " at position ", i);
  }
  if (mix.box.defined()) {
    const RowGeometry& g = mix.geometry;
    const at::Tensor rows = mix.box.reshape({-1, 4}).cpu();
    const auto boxes = rows.accessor<int64_t, 2>();
    for (int64_t r = 0; r < boxes.size(0); ++r) {
      const Box b{boxes[r][0], boxes[r][1], boxes[r][2], boxes[r][3]};
      constexpr int64_t kNo = Box::kNoBox;
      const bool no_box = b.y0 == kNo && b.y1 == kNo && b.x0 == kNo && b.x1 == kNo;
      const bool inside = b.y0 >= 0 && b.y1 >= 0 && b.x0 >= 0 && b.x1 >= 0 && b.y0 <= g.height && b.y1 <= g.height &&
                          b.x0 <= g.width && b.x1 <= g.width;
      TORCH_CHECK_VALUE(no_box || inside, op, ": box row ", r, " = [", b.y0, ", ", b.y1, ", ", b.x0, ", ", b.x1,
                        "] is neither a box inside the image (y0, y1 in [0, H=", g.height,
                        "], x0, x1 in [0, W=", g.width, "]) nor [-1, -1, -1, -1] (no box: blend)");
    }
  }
  if (mix.mean.defined()) {
    // A plain loop over C values: tensor ops here would cost more host time than the mix.
    const auto check_channels = [&](auto zero) {
      using acc_t = decltype(zero);
      const at::Tensor mean_values = mix.mean.cpu(), std_values = mix.std.cpu();
      const acc_t* mean = mean_values.const_data_ptr<acc_t>();
      const acc_t* std = std_values.const_data_ptr<acc_t>();
      for (int64_t c = 0; c < mix.mean.numel(); ++c) {
        TORCH_CHECK_VALUE(std::isfinite(mean[c]), op, ": mean must be finite, got ",
                          number(static_cast<double>(mean[c])), " for channel ", c);
        TORCH_CHECK_VALUE(std::isfinite(std[c]) && std[c] != acc_t(0), op, ": std must be finite and non-zero, got ",
                          number(static_cast<double>(std[c])), " for channel ", c);
      }
    };
    if (mix.mean.scalar_type() == at::kDouble) {
      check_channels(double{});
    } else {
      check_channels(float{});
    }
  }
}

void check_values(const ForwardPlan& plan) {
  if (!reads_values(plan.mix.index)) return;
  check_values("mixup::fused_mix", plan.mix);
  const TargetArgs& t = plan.target_args;
  if (t.labels != nullptr) {
    const at::Tensor label_values = plan.target.cpu();
    const auto labels = label_values.accessor<int64_t, 1>();
    for (int64_t i = 0; i < plan.mix.batch; ++i) {
      TORCH_CHECK_VALUE(labels[i] >= 0 && labels[i] < t.num_classes,
                        "mixup::fused_mix: target class ids must be in [0, num_classes) = [0, ", t.num_classes,
                        "), found ", labels[i], " at position ", i);
    }
  }
}

}  // namespace mixup
