// R003's models (unet, autoencoder, vit) and R002's efficientnet-b0 on CUDA: the same weights and
// batch give the same outputs, loss, parameter gradients and BatchNorm statistics as on the CPU
// (training mode, dropout and drop-path off; reduced widths).
#include <doctest/doctest.h>

#include <string>

#include "models/registry.h"
#include "tests/support/parity.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu).to_dtype(DType::f32).to_vector<float>(); }

void no_dropout(nn::Module& m) {
  m.train(true);
  for (auto& [name, mod] : m.named_modules())
    if (mod->type_name() == "Dropout" || mod->type_name() == "DropPath") mod->eval();
}

void check_model_parity(const std::string& name, const models::ModelConfig& cfg) {
  INFO(name);
  const models::ModelSpec& spec = models::find_model(name);
  manual_seed(21);
  nn::ModulePtr cpu = models::build_model(name, cfg);
  manual_seed(21);
  nn::ModulePtr gpu = models::build_model(name, cfg);
  gpu->to(Device::cuda);
  no_dropout(*cpu);
  no_dropout(*gpu);
  Generator g(3);
  Tensor x = Tensor::zeros({3, spec.input_channels, spec.input_size, spec.input_size});
  uniform_(x, 0.0, 1.0, g);
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 2, 1}, {3});
  auto loss_of = [&](nn::Module& m, const Tensor& in, const Tensor& lab) {
    const Tensor y = m(in);
    return std::make_pair(y, name == "autoencoder" ? ops::mse_loss(y, in) : ops::cross_entropy(y, lab));
  };
  auto [y_cpu, l_cpu] = loss_of(*cpu, x, labels);
  auto [y_gpu, l_gpu] = loss_of(*gpu, x.to(Device::cuda), labels.to(Device::cuda));
  REQUIRE(y_gpu.is_cuda());
  test::expect_close("output", host(y_gpu), host(y_cpu), 1e-4, 1e-3);
  test::expect_close("loss", host(l_gpu), host(l_cpu), 1e-5, 1e-4);
  l_cpu.backward();
  l_gpu.backward();
  const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  REQUIRE(pc.size() == pg.size());
  for (size_t i = 0; i < pc.size(); ++i) test::expect_close("grad " + pc[i].first, host(pg[i].second.grad()),
                                                            host(pc[i].second.grad()), 1e-4, 1e-2);
  const auto bc = cpu->named_buffers(), bg = gpu->named_buffers();
  REQUIRE(bc.size() == bg.size());
  for (size_t i = 0; i < bc.size(); ++i)
    if (bc[i].second.dtype() == DType::f32) test::expect_close("buffer " + bc[i].first, host(bg[i].second),
                                                               host(bc[i].second), 1e-5, 1e-3);
}

}  // namespace

TEST_CASE("unet on CUDA matches the CPU") { check_model_parity("unet", {7, 0.1, ""}); }
TEST_CASE("autoencoder on CUDA matches the CPU") { check_model_parity("autoencoder", {7, 0.25, ""}); }
TEST_CASE("vit on CUDA matches the CPU") { check_model_parity("vit", {7, 0.25, "depth=2"}); }
TEST_CASE("efficientnet-b0 on CUDA matches the CPU") { check_model_parity("efficientnet-b0", {6, 0.25, ""}); }
