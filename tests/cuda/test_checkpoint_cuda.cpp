// nn/checkpoint and nn/safetensors with CUDA tensors: saving copies device tensors to the host
// (same bytes as saving the CPU model), loading lands on the model's device in place.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "models/registry.h"
#include "nn/checkpoint.h"
#include "tensor/rng.h"

using namespace fer;
namespace st = fer::nn::safetensors;

namespace {

struct TempFolder {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("fer_test_ckpt_cuda_" + std::to_string(::getpid()));
  TempFolder() { std::filesystem::create_directories(path); }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<double> values(const Tensor& t) { return t.to(Device::cpu).to_dtype(DType::f64).to_vector<double>(); }

}  // namespace

TEST_CASE("checkpoint on CUDA: save from and load into a model on the GPU") {
  TempFolder dir;
  models::ModelConfig cfg;
  cfg.width = 0.25;
  auto a = models::build_model("cnn6", cfg);
  Generator g(7);
  for (auto& [n, t] : a->named_parameters()) uniform_(t, -1, 1, g);
  for (auto& [n, t] : a->named_buffers())
    if (t.dtype() == DType::i64) t.fill_(5);
    else uniform_(t, 0.5, 2, g);
  const auto cpu_state = nn::state_dict(*a);
  const std::string cpu_bytes = st::serialize(cpu_state);

  // Saving the same model from the GPU writes the same bytes.
  a->to(Device::cuda);
  REQUIRE(a->named_parameters()[0].second.is_cuda());
  CHECK(st::serialize(nn::state_dict(*a)) == cpu_bytes);
  const std::string path = (dir.path / "gpu.safetensors").string();
  nn::save_state_dict(path, *a, {{"model", "cnn6"}});

  auto b = models::build_model("cnn6", cfg);
  b->to(Device::cuda);
  const Tensor first = b->named_parameters()[0].second;
  nn::load_state_dict(path, *b);
  CHECK(first.same_data(b->named_parameters()[0].second));  // in place
  const auto sb = nn::state_dict(*b);
  REQUIRE(sb.size() == cpu_state.size());
  for (size_t i = 0; i < sb.size(); ++i) {
    INFO(sb[i].name);
    CHECK(sb[i].tensor.is_cuda());
    CHECK(values(sb[i].tensor) == values(cpu_state[i].tensor));
  }

  // A bf16 file converts on the host and lands on the GPU.
  std::vector<st::TensorRef> half;
  for (const auto& r : cpu_state)
    half.push_back({r.name, is_floating(r.tensor.dtype()) ? r.tensor.to_dtype(DType::bf16) : r.tensor});
  const std::string p16 = (dir.path / "bf16.safetensors").string();
  st::save(p16, half);
  nn::load_state_dict(p16, *b);
  const auto s16 = nn::state_dict(*b);
  for (size_t i = 0; i < s16.size(); ++i) {
    INFO(s16[i].name);
    CHECK(s16[i].tensor.is_cuda());
    CHECK(values(s16[i].tensor) == values(half[i].tensor));
  }

  // copy_to straight into a device tensor.
  const st::File f = st::File::load(path);
  Tensor dst = Tensor::zeros(f.entry("fc2.weight").shape, DType::f32, Device::cuda);
  f.copy_to("fc2.weight", dst);
  CHECK(values(dst) == values(f.at("fc2.weight")));
}
