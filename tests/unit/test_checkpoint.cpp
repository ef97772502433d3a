// nn/checkpoint: save and load models by PyTorch state_dict names; strict-mode errors; atomicity.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "models/registry.h"
#include "nn/checkpoint.h"
#include "tensor/rng.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer;
namespace st = fer::nn::safetensors;

namespace {

models::ModelConfig small_cnn6(int64_t classes = 7) {
  models::ModelConfig c;
  c.num_classes = classes;
  c.width = 0.25;
  return c;
}

// Fills every floating tensor of the model with seeded noise and sets num_batches_tracked.
void scramble(nn::Module& m, uint64_t seed) {
  Generator g(seed);
  for (auto& [name, t] : m.named_parameters()) uniform_(t, -1, 1, g);
  for (auto& [name, t] : m.named_buffers()) {
    if (t.dtype() == DType::i64) t.fill_(static_cast<double>(seed % 1000));
    else uniform_(t, 0.5, 2, g);
  }
}

std::vector<double> values(const Tensor& t) {
  const Tensor d = t.to_dtype(DType::f64);
  return d.to_vector<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fer::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void require_equal_state(nn::Module& a, nn::Module& b) {
  const auto sa = nn::state_dict(a), sb = nn::state_dict(b);
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].name);
    CHECK(sa[i].name == sb[i].name);
    CHECK(sa[i].tensor.dtype() == sb[i].tensor.dtype());
    CHECK(values(sa[i].tensor) == values(sb[i].tensor));
  }
}

}  // namespace

TEST_CASE("checkpoint: cnn6 saved and loaded into a fresh model gives equal tensors and metadata") {
  test::TempDir dir;
  const std::string path = (dir / "best.safetensors").string();
  auto a = models::build_model("cnn6", small_cnn6());
  scramble(*a, 11);
  const Tensor step = Tensor::from_vector<int64_t>({1234}, {});
  nn::save_state_dict(path, *a, {{"model", "cnn6"}, {"epoch", "12"}, {"classes", "[\"angry\",\"happy\"]"}},
                      {{"optimizer.step", step}});
  CHECK(listing(dir.path()) == std::vector<std::string>{"best.safetensors"});

  // PyTorch names: exactly the parameters and buffers of the PyTorch twin, plus the extra tensor.
  const st::File f = st::File::load(path);
  CHECK(f.contains("conv1.weight"));
  CHECK(f.contains("bn6.running_var"));
  CHECK(f.contains("bn1.num_batches_tracked"));
  CHECK(f.entry("bn1.num_batches_tracked").dtype == DType::i64);
  CHECK(f.entry("fc2.weight").shape == Shape{7, 128});
  CHECK(f.names().size() == a->named_parameters().size() + a->named_buffers().size() + 1);
  CHECK(f.at("optimizer.step").item() == 1234.0);

  const auto meta = nn::read_checkpoint_metadata(path);
  CHECK(meta.at("format") == "fer-checkpoint");
  CHECK(meta.at("version") == "1");
  CHECK(meta.at("model") == "cnn6");
  CHECK(meta.at("epoch") == "12");
  CHECK(meta.at("classes") == "[\"angry\",\"happy\"]");
  CHECK(meta.at("extra_tensors") == "[\"optimizer.step\"]");

  auto b = models::build_model("cnn6", small_cnn6());
  scramble(*b, 99);
  CHECK(values(b->named_parameters()[0].second) != values(a->named_parameters()[0].second));
  nn::load_state_dict(path, *b);  // strict; the extra tensor is not "unexpected"
  require_equal_state(*a, *b);
  // Loading works in place: the parameter handles are the same tensors, still trainable.
  CHECK(b->named_parameters()[0].second.requires_grad());

  // Saving again replaces the file atomically and leaves no temporary file.
  scramble(*a, 12);
  nn::save_state_dict(path, *a, {});
  CHECK(listing(dir.path()) == std::vector<std::string>{"best.safetensors"});
  nn::load_state_dict(path, *b);
  require_equal_state(*a, *b);

  CHECK(contains(error_of([&] { nn::save_state_dict(path, *a, {{"format", "mine"}}); }), "'format' is reserved"));
  CHECK(contains(error_of([&] { nn::save_state_dict(path, *a, {}, {{"fc1.bias", step}}); }), "extra tensor 'fc1.bias'"));
  const std::string missing_dir = (dir / "no" / "x.safetensors").string();
  CHECK(contains(error_of([&] { nn::save_state_dict(missing_dir, *a, {}); }), missing_dir));
  CHECK(listing(dir.path()) == std::vector<std::string>{"best.safetensors"});
}

TEST_CASE("checkpoint: strict loading lists missing keys, unexpected keys and shape mismatches at once") {
  test::TempDir dir;
  const std::string path = (dir / "bad.safetensors").string();
  auto a = models::build_model("cnn6", small_cnn6());
  scramble(*a, 3);
  std::vector<st::TensorRef> tensors;
  for (auto& r : nn::state_dict(*a))
    if (r.name != "conv1.bias" && r.name != "bn2.running_mean") tensors.push_back(r);
  tensors.push_back({"bogus.weight", Tensor::zeros({3})});
  for (auto& r : tensors)
    if (r.name == "fc2.bias") r.tensor = Tensor::zeros({5});
  st::save(path, tensors, {{"format", "fer-checkpoint"}, {"version", "1"}});

  auto b = models::build_model("cnn6", small_cnn6());
  scramble(*b, 4);
  const auto before = values(b->named_parameters()[0].second);
  const std::string e = error_of([&] { nn::load_state_dict(path, *b); });
  INFO(e);
  CHECK(contains(e, path));
  CHECK(contains(e, "missing keys (2): conv1.bias, bn2.running_mean"));
  CHECK(contains(e, "unexpected keys (1): bogus.weight"));
  CHECK(contains(e, "size/dtype mismatches (1):\n    'fc2.bias': file [5], model [7]"));
  CHECK(values(b->named_parameters()[0].second) == before);  // nothing was loaded

  // Not strict: missing and unexpected keys are skipped, but a shape mismatch still fails.
  const std::string e2 = error_of([&] { nn::load_state_dict(path, *b, false); });
  CHECK(contains(e2, "'fc2.bias': file [5], model [7]"));
  CHECK_FALSE(contains(e2, "missing keys"));

  // A different class count is a mismatch of the head, named as such.
  const std::string good = (dir / "good.safetensors").string();
  nn::save_state_dict(good, *a, {});
  auto c5 = models::build_model("cnn6", small_cnn6(5));
  const std::string e3 = error_of([&] { nn::load_state_dict(good, *c5); });
  CHECK(contains(e3, "'fc2.weight': file [7, 128], model [5, 128]"));
  CHECK(contains(e3, "'fc2.bias': file [7], model [5]"));

  // Not strict with only missing/unexpected keys: the rest loads, the missing keys keep their values.
  std::vector<st::TensorRef> partial;
  for (auto& r : nn::state_dict(*a))
    if (r.name != "conv1.bias") partial.push_back(r);
  partial.push_back({"bogus.weight", Tensor::zeros({3})});
  const std::string part_path = (dir / "partial.safetensors").string();
  st::save(part_path, partial);
  auto d = models::build_model("cnn6", small_cnn6());
  scramble(*d, 5);
  Tensor d_conv1_bias;
  for (auto& [n, t] : d->named_parameters())
    if (n == "conv1.bias") d_conv1_bias = t;
  const auto kept = values(d_conv1_bias);
  nn::load_state_dict(part_path, *d, false);
  CHECK(values(d_conv1_bias) == kept);
  Tensor a_fc1, d_fc1;
  for (auto& [n, t] : a->named_parameters())
    if (n == "fc1.weight") a_fc1 = t;
  for (auto& [n, t] : d->named_parameters())
    if (n == "fc1.weight") d_fc1 = t;
  CHECK(values(a_fc1) == values(d_fc1));
}

TEST_CASE("checkpoint: floating dtypes convert on load (f64 and bf16 files into an f32 model)") {
  test::TempDir dir;
  auto a = models::build_model("cnn6", small_cnn6());
  scramble(*a, 21);
  std::vector<st::TensorRef> wide, narrow;
  for (auto& r : nn::state_dict(*a)) {
    const bool fl = is_floating(r.tensor.dtype());
    wide.push_back({r.name, fl ? r.tensor.to_dtype(DType::f64) : r.tensor});
    narrow.push_back({r.name, fl ? r.tensor.to_dtype(DType::bf16) : r.tensor});
  }
  const std::string p64 = (dir / "f64.safetensors").string(), p16 = (dir / "bf16.safetensors").string();
  st::save(p64, wide);
  st::save(p16, narrow);
  CHECK(st::File::load(p64).entry("conv1.weight").dtype == DType::f64);

  auto b = models::build_model("cnn6", small_cnn6());
  nn::load_state_dict(p64, *b);
  require_equal_state(*a, *b);  // f32 -> f64 -> f32 is exact

  auto c = models::build_model("cnn6", small_cnn6());
  nn::load_state_dict(p16, *c);
  const auto sa = nn::state_dict(*a), sc = nn::state_dict(*c);
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].name);
    CHECK(sc[i].tensor.dtype() == sa[i].tensor.dtype());
    if (is_floating(sa[i].tensor.dtype())) {
      const auto rounded = values(sa[i].tensor.to_dtype(DType::bf16));  // what bf16 keeps
      CHECK(values(sc[i].tensor) == rounded);
    } else {
      CHECK(values(sc[i].tensor) == values(sa[i].tensor));
    }
  }

  // Integer buffers do not convert to floats or back: a dtype mismatch is reported.
  std::vector<st::TensorRef> ints = nn::state_dict(*a);
  for (auto& r : ints)
    if (r.name == "bn1.num_batches_tracked") r.tensor = Tensor::zeros({}, DType::f32);
  const std::string pi = (dir / "ints.safetensors").string();
  st::save(pi, ints);
  CHECK(contains(error_of([&] { nn::load_state_dict(pi, *b); }),
                 "'bn1.num_batches_tracked': file dtype f32, model i64"));

  // A fer checkpoint of a future version is refused with the version named.
  const std::string pv = (dir / "v2.safetensors").string();
  st::save(pv, nn::state_dict(*a), {{"format", "fer-checkpoint"}, {"version", "2"}});
  CHECK(contains(error_of([&] { nn::load_state_dict(pv, *b); }), "version 2"));
}

TEST_CASE("checkpoint: the PyTorch fixture's weights load strictly into cnn6 by their state_dict names") {
  // tools/make_fixtures.py saved the PyTorch CNN6 twin's named_parameters()/named_buffers() under
  // "param/" and "buffer/"; stripped of the prefix they are a PyTorch state_dict.
  const st::File fx = st::File::load(std::string(FER_SOURCE_DIR) + "/tests/fixtures/cnn6.safetensors");
  std::vector<st::TensorRef> sd;
  for (const auto& n : fx.names()) {
    if (n.rfind("param/", 0) == 0) sd.push_back({n.substr(6), fx.at(n)});
    if (n.rfind("buffer/", 0) == 0) sd.push_back({n.substr(7), fx.at(n)});
  }
  test::TempDir dir;
  const std::string path = (dir / "torch.safetensors").string();
  st::save(path, sd);  // no fer metadata, like safetensors.torch.save_file(model.state_dict())
  auto m = models::build_model("cnn6", small_cnn6());
  nn::load_state_dict(path, *m);  // strict: the names and shapes match PyTorch's exactly
  for (auto& [n, t] : m->named_parameters()) {
    INFO(n);
    CHECK(values(t) == values(fx.at("param/" + n)));
  }
  for (auto& [n, t] : m->named_buffers()) {
    INFO(n);
    CHECK(values(t) == values(fx.at("buffer/" + n)));
  }
}
