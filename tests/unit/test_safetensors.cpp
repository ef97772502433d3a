// nn/safetensors: round trips of every dtype, metadata, the PyTorch-written fixture, corrupt files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "nn/atomic_file.h"
#include "nn/safetensors.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer;
namespace st = fer::nn::safetensors;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file from a hand-written header and data section (for the corrupt-input cases).
std::string make_file(const std::string& header, const std::string& data, int64_t length_override = -1) {
  const uint64_t n = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// The message of the fer::Error `f` throws ("" when it does not throw).
template <typename F>
std::string error_of(F&& f) {
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

}  // namespace

TEST_CASE("safetensors: every dtype, empty and 0-d tensors and metadata survive a round trip") {
  test::TempDir dir;
  const std::string path = (dir / "all.safetensors").string();
  const Tensor f32 = Tensor::from_vector<float>({1.5f, -2.25f, 3e-8f, 1e30f, 0.f, -0.f}, {2, 3});
  const Tensor f64 = Tensor::from_vector<double>({3.141592653589793, -1e-300}, {2});
  const Tensor bf16 = Tensor::from_vector<uint16_t>({0x3f80, 0xc000, 0x7f80, 0x0001}, {2, 1, 2});
  const Tensor u8 = Tensor::from_vector<uint8_t>({0, 7, 255}, {3});
  const Tensor i32 = Tensor::from_vector<int32_t>({-2147483647 - 1, 2147483647, 5}, {1, 3});
  const Tensor i64 = Tensor::from_vector<int64_t>({42}, {});  // 0-d, like num_batches_tracked
  const Tensor empty = Tensor::empty({0, 4}, DType::f32);
  const std::map<std::string, std::string> meta = {{"model", "cnn6"}, {"config", "{\"width\": 0.25}"}, {"x", ""}};
  st::save(path, {{"a.f32", f32}, {"b.f64", f64}, {"c.bf16", bf16}, {"d.u8", u8}, {"e.i32", i32}, {"f.i64", i64},
                  {"g.empty", empty}},
           meta);
  CHECK(listing(dir.path()) == std::vector<std::string>{"all.safetensors"});  // no temporary file left

  const std::string bytes = read_all(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);  // header padded so the data section is 8-byte aligned
  CHECK(bytes.size() == 8 + n + 24 + 16 + 8 + 3 + 12 + 8 + 0);
  CHECK(bytes == st::serialize({{"a.f32", f32}, {"b.f64", f64}, {"c.bf16", bf16}, {"d.u8", u8}, {"e.i32", i32},
                                {"f.i64", i64}, {"g.empty", empty}},
                               meta));

  const st::File f = st::File::load(path);
  CHECK(f.metadata() == meta);
  CHECK(st::read_metadata(path) == meta);
  CHECK(f.names() == std::vector<std::string>{"a.f32", "b.f64", "c.bf16", "d.u8", "e.i32", "f.i64", "g.empty"});
  CHECK(f.contains("d.u8"));
  CHECK_FALSE(f.contains("nope"));
  CHECK(f.at("a.f32").shape() == Shape{2, 3});
  CHECK(f.at("a.f32").to_vector<float>() == f32.to_vector<float>());
  CHECK(f.at("b.f64").to_vector<double>() == f64.to_vector<double>());
  CHECK(f.at("c.bf16").dtype() == DType::bf16);
  CHECK(f.at("c.bf16").shape() == Shape{2, 1, 2});
  CHECK(f.at("c.bf16").to_vector<uint16_t>() == bf16.to_vector<uint16_t>());
  CHECK(f.at("d.u8").to_vector<uint8_t>() == u8.to_vector<uint8_t>());
  CHECK(f.at("e.i32").to_vector<int32_t>() == i32.to_vector<int32_t>());
  const Tensor s = f.at("f.i64");
  CHECK(s.ndim() == 0);
  CHECK(s.item() == 42.0);
  CHECK(f.at("g.empty").shape() == Shape{0, 4});
  CHECK(f.entry("c.bf16").dtype == DType::bf16);

  // copy_to: into an existing tensor; shape and dtype checked with a clear message.
  Tensor dst = Tensor::zeros({2, 3});
  f.copy_to("a.f32", dst);
  CHECK(dst.to_vector<float>() == f32.to_vector<float>());
  Tensor wrong_shape = Tensor::zeros({3, 2});
  const std::string e1 = error_of([&] { f.copy_to("a.f32", wrong_shape); });
  CHECK(contains(e1, path));
  CHECK(contains(e1, "'a.f32'"));
  CHECK(contains(e1, "f32[2, 3] in the file, expected f32[3, 2]"));
  Tensor wrong_dtype = Tensor::zeros({2}, DType::f32);
  CHECK(contains(error_of([&] { f.copy_to("b.f64", wrong_dtype); }), "f64[2] in the file, expected f32[2]"));
  const std::string e2 = error_of([&] { (void)f.at("nope"); });
  CHECK(contains(e2, "has no tensor 'nope'"));
  CHECK(contains(e2, "'a.f32'"));
}

TEST_CASE("safetensors: the PyTorch-written cnn6 fixture reads with its names, metadata and values") {
  const std::string path = std::string(FER_SOURCE_DIR) + "/tests/fixtures/cnn6.safetensors";
  const st::File f = st::File::load(path);
  CHECK(f.metadata().at("model") == "cnn6");
  CHECK(f.metadata().at("config") == "{\"num_classes\": 7, \"width\": 0.25}");
  CHECK(st::read_metadata(path) == f.metadata());
  CHECK(f.entry("input").shape == Shape{4, 1, 48, 48});
  CHECK(f.at("labels").to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2, 3});
  CHECK(f.at("loss").ndim() == 0);
  CHECK(f.at("loss").item() == doctest::Approx(1.924958348274231).epsilon(1e-7));
  CHECK(f.at("buffer/bn1.num_batches_tracked").dtype() == DType::i64);
  CHECK(f.at("buffer/bn1.num_batches_tracked").item() == 1.0);
  CHECK(f.entry("param/conv6.weight").shape == Shape{64, 64, 3, 3});
  const auto b = f.at("param/fc2.bias").to_vector<float>();
  REQUIRE(b.size() == 7);
  CHECK(b[0] == doctest::Approx(-0.06677930057048798).epsilon(1e-7));
  CHECK(b[1] == doctest::Approx(0.06401095539331436).epsilon(1e-7));
}

TEST_CASE("safetensors: corrupt files give clear errors naming the file and the field") {
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\x01');
  REQUIRE_NOTHROW(st::File::parse(make_file(good_header, data), "good"));

  // Truncated: fewer than 8 bytes; header cut; data cut.
  CHECK(contains(error_of([] { st::File::parse("abc", "t.st"); }), "'t.st': 3 bytes is too short"));
  CHECK(contains(error_of([] { st::File::parse("", "t.st"); }), "0 bytes is too short"));
  const std::string whole = make_file(good_header, data);
  CHECK(contains(error_of([&] { st::File::parse(whole.substr(0, 20), "t.st"); }), "header length"));
  const std::string cut = error_of([&] { st::File::parse(whole.substr(0, whole.size() - 3), "t.st"); });
  CHECK(contains(cut, "tensor 'w'"));
  CHECK(contains(cut, "run past the data section (5 bytes)"));

  // Header length beyond the file.
  const std::string big = error_of([&] { st::File::parse(make_file(good_header, data, 1 << 20), "big.st"); });
  CHECK(contains(big, "'big.st': header length 1048576 exceeds"));
  CHECK(contains(error_of([&] { st::File::parse(make_file(good_header, data, INT64_MAX), "huge.st"); }), "exceeds"));

  // Bad JSON, and JSON of the wrong shape.
  CHECK(contains(error_of([&] { st::File::parse(make_file("{\"w\": [1, 2", ""), "j.st"); }),
                 "'j.st': the header is not valid JSON"));
  CHECK(contains(error_of([&] { st::File::parse(make_file("[1,2]", ""), "j.st"); }), "expected an object"));
  CHECK(contains(error_of([&] { st::File::parse(make_file(R"({"w": 3})", ""), "j.st"); }), "tensor 'w' is a JSON number"));
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"w":{"dtype":"F32","shape":[2]}})", data), "j.st");
                 }),
                 "tensor 'w' has no 'data_offsets' field"));
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"__metadata__":{"a":1}})", ""), "j.st");
                 }),
                 "__metadata__['a'] is a JSON number"));

  // Unknown dtype.
  const std::string bad_dtype = error_of([&] {
    st::File::parse(make_file(R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", data), "d.st");
  });
  CHECK(contains(bad_dtype, "'d.st'"));
  CHECK(contains(bad_dtype, "tensor 'w': dtype 'F16' is not one fer reads"));

  // Shape product against the byte range; negative and fractional sizes.
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "s.st");
                 }),
                 "shape [3] of F32 needs 3 x 4 bytes but data_offsets [0, 8] hold 8"));
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"w":{"dtype":"U8","shape":[-8],"data_offsets":[0,8]}})", data), "s.st");
                 }),
                 "expected non-negative integers"));
  CHECK(contains(error_of([&] {
                   st::File::parse(
                       make_file(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", data),
                       "s.st");
                 }),
                 "overflows"));

  // Offsets: reversed, out of range, overlapping.
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", data), "o.st");
                 }),
                 "ends before it begins"));
  CHECK(contains(error_of([&] {
                   st::File::parse(make_file(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})", data), "o.st");
                 }),
                 "run past the data section"));
  const std::string overlap = error_of([&] {
    st::File::parse(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                              data),
                    "o.st");
  });
  CHECK(contains(overlap, "'o.st': data_offsets overlap: tensor 'a' [0, 8) and tensor 'b' [4, 8)"));
}

TEST_CASE("safetensors: a missing file and an unwritable destination name the path") {
  test::TempDir dir;
  const std::string missing = (dir / "nope.safetensors").string();
  CHECK(contains(error_of([&] { st::File::load(missing); }), missing));
  CHECK(contains(error_of([&] { st::read_metadata(missing); }), missing));
  const std::string bad = (dir / "no_such_folder" / "x.safetensors").string();
  const std::string e = error_of([&] { st::save(bad, {{"w", Tensor::zeros({2})}}); });
  CHECK(contains(e, bad));
  CHECK_FALSE(std::filesystem::exists(bad));
  CHECK(contains(error_of([&] { st::save((dir / "d.st").string(), {{"w", Tensor::zeros({2})}, {"w", Tensor::zeros({1})}}); }),
                 "appears twice"));
  CHECK(listing(dir.path()).empty());  // the failed save left nothing behind
}

TEST_CASE("atomic files: write_file_atomic replaces whole files; an uncommitted writer leaves nothing") {
  test::TempDir dir;
  const std::string path = (dir / "report.txt").string();
  nn::write_file_atomic(path, "first version");
  CHECK(read_all(path) == "first version");
  nn::write_file_atomic(path, std::string(100000, 'x'));
  CHECK(read_all(path) == std::string(100000, 'x'));
  CHECK(listing(dir.path()) == std::vector<std::string>{"report.txt"});

  {
    nn::AtomicFileWriter w(path);
    w.stream() << "streamed " << 42;
    CHECK(std::filesystem::exists(w.temp_path()));
    CHECK(read_all(path) == std::string(100000, 'x'));  // not replaced before commit
    w.commit();
    CHECK(w.committed());
  }
  CHECK(read_all(path) == "streamed 42");
  std::string temp;
  {
    nn::AtomicFileWriter w(path);
    w.stream() << "abandoned";
    temp = w.temp_path();
    CHECK(std::filesystem::exists(temp));
  }
  CHECK_FALSE(std::filesystem::exists(temp));
  CHECK(read_all(path) == "streamed 42");
  CHECK(listing(dir.path()) == std::vector<std::string>{"report.txt"});

  const std::string bad = (dir / "missing" / "f.txt").string();
  CHECK(contains(error_of([&] { nn::write_file_atomic(bad, "x"); }), bad));
  CHECK(contains(error_of([&] { nn::AtomicFileWriter w(bad); }), bad));
}
