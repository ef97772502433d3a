// tools/common/checkpoint_model.cpp: see checkpoint_model.h.
#include "tools/common/checkpoint_model.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "fer/config.h"
#include "kernels/augment.h"
#include "kernels/device.h"
#include "models/registry.h"
#include "nn/checkpoint.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::tools {

using nlohmann::json;

Device device_from_name(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  FER_CHECK(name == "cuda", "--device '" << name << "' is not one of: cpu, cuda");
  FER_CHECK(kCudaBuilt, "--device cuda: this build has no CUDA (configured with FER_CUDA=OFF or without nvcc)");
  FER_CHECK(cuda::device_count() > 0, "--device cuda: " << cuda::no_device_reason() << "; hint: --device cpu");
  return Device::cuda;
}

LoadedModel load_model_from_checkpoint(const std::string& path, Device device) {
  namespace fs = std::filesystem;
  std::error_code ec;
  FER_CHECK(fs::is_regular_file(path, ec), "checkpoint '" << path << "': no such file");
  std::map<std::string, std::string> meta;
  try {
    meta = nn::read_checkpoint_metadata(path);
  } catch (const std::exception& e) {
    FER_FAIL("checkpoint '" << path << "' is not a safetensors file: " << e.what());
  }
  std::vector<std::string> missing;
  for (const char* key : {"fer.model", "fer.config", "fer.classes"})
    if (!meta.count(key)) missing.push_back(key);
  if (!missing.empty()) {
    std::ostringstream m;
    for (const auto& k : missing) m << (m.tellp() ? ", " : "") << k;
    FER_FAIL("checkpoint '" << path << "' is not a fer model checkpoint: its metadata lacks " << m.str()
                            << "; hint: use the best.safetensors or last.safetensors of a fertrain run folder");
  }
  LoadedModel m;
  m.path = path;
  m.device = device;
  m.name = meta.at("fer.model");
  std::vector<std::string> names;
  try {
    m.config = json::parse(meta.at("fer.config"));
    names = json::parse(meta.at("fer.classes")).get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    FER_FAIL("checkpoint '" << path << "': metadata fer.config / fer.classes is not valid JSON: " << e.what());
  }
  FER_CHECK(m.config.is_object(), "checkpoint '" << path << "': fer.config is not a JSON object");
  FER_CHECK(names.size() >= 2, "checkpoint '" << path << "': fer.classes names " << names.size() << " classes");
  // The class set: fer.class_set when present, else whichever known set has exactly these names.
  const std::string id = meta.count("fer.class_set") ? meta.at("fer.class_set")
                                                     : (names.size() == 6 ? std::string("fer6") : std::string("fer7"));
  try {
    m.classes = data::class_set_from_name(id);
  } catch (const std::exception& e) {
    FER_FAIL("checkpoint '" << path << "': class set: " << e.what());
  }
  FER_CHECK(m.classes.names == names, "checkpoint '" << path << "': fer.classes " << json(names).dump()
                                                     << " is not the class order of " << id << " "
                                                     << json(m.classes.names).dump());
  const models::ModelSpec& spec = models::find_model(m.name);
  models::ModelConfig mc;
  mc.num_classes = static_cast<int64_t>(names.size());
  mc.width = m.config.value("width", 1.0);
  mc.variant = m.config.value("model_variant", std::string());
  m.model = models::build_model(m.name, mc);
  m.model->to(device);
  nn::load_state_dict(path, *m.model, true);
  m.model->eval();
  m.input = {spec.input_channels, spec.input_size};
  return m;
}

void require_classifier(const LoadedModel& m, const char* program) {
  FER_CHECK(models::find_model(m.name).default_classes != 0,
            "checkpoint '" << m.path << "' holds " << m.name << ", a reconstruction model, not a classifier; " << program
                           << " needs a classifier; hint: ferclean --autoencoder " << m.path
                           << " scores images by their reconstruction error");
}

Tta tta_from_name(const std::string& name) {
  if (name == "none") return Tta::none;
  if (name == "flip") return Tta::flip;
  if (name == "tencrop") return Tta::tencrop;
  if (name == "rmn10") return Tta::rmn10;
  FER_FAIL("--tta '" << name << "' is not one of: none, flip, tencrop, rmn10");
}

const char* tta_name(Tta tta) {
  switch (tta) {
    case Tta::flip:
      return "flip";
    case Tta::tencrop:
      return "tencrop";
    case Tta::rmn10:
      return "rmn10";
    default:
      return "none";
  }
}

void check_tta(const LoadedModel& m, Tta tta) {
  FER_CHECK(tta != Tta::tencrop || m.input.size < data::kImageSide,
            "--tta tencrop needs a crop-size model (input smaller than the "
                << data::kImageSide << "x" << data::kImageSide << " images, e.g. 40x40); " << m.name << " in '"
                << m.path << "' takes " << m.input.size << "x" << m.input.size << "; hint: --tta flip or --tta none");
}

Tensor hflip_images(const Tensor& x) {
  FER_CHECK(x.ndim() == 4, "hflip_images: expected [B, C, H, W], got " << describe(x));
  const int64_t w = x.size(3);
  const std::vector<float> v = x.to_vector<float>();
  std::vector<float> out(v.size());
  for (size_t row = 0; row < v.size(); row += static_cast<size_t>(w))
    for (int64_t j = 0; j < w; ++j) out[row + static_cast<size_t>(j)] = v[row + static_cast<size_t>(w - 1 - j)];
  return Tensor::from_vector(out, x.shape(), x.device());
}

Tensor ten_crop_images(const Tensor& x, int64_t crop) {
  FER_CHECK(x.ndim() == 4, "ten_crop_images: expected [B, C, H, W], got " << describe(x));
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  check_ten_crop("ten_crop_images", b, c, h, w, crop, crop);
  const Tensor src = x.to_dtype(DType::f32);
  Tensor y = Tensor::empty({b * 10, c, crop, crop}, DType::f32, x.device());
  on_device(
      "ten_crop_images", x.device(),
      [&] { cpu::ten_crop<float>(b, c, h, w, src.data<float>(), crop, crop, y.data<float>()); },
      [&](cuda_stream s) { cuda::ten_crop(b, c, h, w, src.data<float>(), crop, crop, y.data<float>(), s); });
  return y;
}

Tensor ten_crop_mean_logits(nn::Module& model, const Tensor& images, int64_t crop) {
  const int64_t n = images.size(0);
  const Tensor logits = model(ten_crop_images(images, crop));  // [n * 10, K]
  FER_CHECK(logits.ndim() == 2 && logits.size(0) == n * 10,
            "ten-crop evaluation: the model returned " << describe(logits) << " for " << n * 10 << " crops");
  return ops::mean_dim(logits.reshape({n, 10, logits.size(1)}), 1);
}

std::vector<float> predict_probs(const LoadedModel& m, const data::DeviceImages& images,
                                 const std::vector<int64_t>& indices, Tta tta, int64_t batch_size) {
  FER_CHECK(batch_size >= 1, "--batch-size must be positive, got " << batch_size);
  check_tta(m, tta);
  NoGradGuard no_grad;
  m.model->eval();
  const int64_t k = static_cast<int64_t>(m.classes.names.size());
  std::vector<float> probs;
  probs.reserve(indices.size() * static_cast<size_t>(k));
  auto softmax_rows = [&](const Tensor& x) {
    const Tensor logits = (*m.model)(x);
    FER_CHECK(logits.ndim() == 2 && logits.size(0) == x.size(0) && logits.size(1) == k,
              "predict: " << m.name << " returned " << describe(logits) << " for " << x.size(0) << " images and " << k
                          << " classes");
    return ops::softmax(logits, 1).to_vector<float>();
  };
  for (size_t start = 0; start < indices.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(indices.size(), start + static_cast<size_t>(batch_size));
    const std::vector<int64_t> chunk(indices.begin() + static_cast<std::ptrdiff_t>(start),
                                     indices.begin() + static_cast<std::ptrdiff_t>(end));
    const size_t n = chunk.size(), kk = static_cast<size_t>(k);
    if (tta == Tta::none) {
      const auto p = softmax_rows(data::make_batch(images, chunk, m.input).images);
      probs.insert(probs.end(), p.begin(), p.end());
    } else if (tta == Tta::flip) {
      const Tensor x = data::make_batch(images, chunk, m.input).images;
      const auto a = softmax_rows(x), b = softmax_rows(hflip_images(x));
      for (size_t i = 0; i < n * kk; ++i) probs.push_back(0.5f * (a[i] + b[i]));
    } else if (tta == Tta::rmn10) {
      AugmentSpec spec;
      spec.hflip = true;
      spec.rotate_deg = 30.0;
      std::vector<double> sum(n * kk, 0.0);
      for (int v = 0; v < kRmn10Views; ++v) {
        const data::AugmentOptions view{spec, v, kRmn10Seed, 0.0f, 1.0f};
        const auto p = softmax_rows(data::make_batch(images, chunk, m.input, view).images);
        for (size_t i = 0; i < n * kk; ++i) sum[i] += p[i];
      }
      for (size_t i = 0; i < n * kk; ++i) probs.push_back(static_cast<float>(sum[i] / kRmn10Views));
    } else {
      // usef-kh / R004 (MODELS.md 2.2, 6): the ten crops' LOGITS are averaged, then one softmax.
      const Tensor full = data::make_batch(images, chunk, {m.input.channels, data::kImageSide}).images;
      const Tensor mean_logits = ten_crop_mean_logits(*m.model, full, m.input.size);
      FER_CHECK(mean_logits.size(1) == k, "predict: " << m.name << " returned " << describe(mean_logits) << " for " << k
                                                      << " classes");
      const auto p = ops::softmax(mean_logits, 1).to_vector<float>();
      probs.insert(probs.end(), p.begin(), p.end());
    }
  }
  return probs;
}

}  // namespace fer::tools
