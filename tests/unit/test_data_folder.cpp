// tests/unit/test_data_folder.cpp: the image-folder reader on generated PNG/JPEG/BMP trees (split
// prefixes, order, RGB 64x64, truncated files, unknown class folders, missing folders) and the
// decoding rules of data/image_io.h (BT.601 luma, area/bilinear resize).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "data/image_folder.h"
#include "data/image_io.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;
using fer::test::pattern;
using fer::test::TempDir;
using fer::test::write_gray48;

namespace {
// A small valid tree: 6 images in 5 classes, both splits, prefixed and unprefixed names.
void make_tree(const std::filesystem::path& root) {
  write_gray48(root / "train/happy/Training_2.png", pattern(1));
  write_gray48(root / "train/happy/Training_1.png", pattern(2));
  write_gray48(root / "train/sad/plain.bmp", pattern(3));
  write_gray48(root / "test/angry/PublicTest_5.png", pattern(4));
  write_gray48(root / "test/angry/PrivateTest_6.PNG", pattern(5));
  write_gray48(root / "test/neutral/img.png", pattern(6));
  fer::test::write_text(root / "train/happy/Thumbs.db", "not an image");
  fer::test::write_text(root / "train/happy/.hidden.png", "ignored");
  fer::test::write_text(root / "README.txt", "ignored at the root");
}
bool same(const Dataset& ds, int64_t i, const std::vector<uint8_t>& img) {
  return std::memcmp(ds.image(i), img.data(), kImagePixels) == 0;
}
}  // namespace

TEST_CASE("folder: classes, prefix split rules, sorted order, exact 48x48 PNG/BMP pixels") {
  TempDir dir;
  make_tree(dir.path());
  LoadReport rep;
  const Dataset ds = read_image_folders(dir.path(), {}, &rep);
  REQUIRE(ds.size() == 6);
  // Sorted by path below the root: test/... before train/...
  const std::string r = dir.path().string();
  CHECK(ds.sources == std::vector<std::string>{r + "/test/angry/PrivateTest_6.PNG", r + "/test/angry/PublicTest_5.png",
                                               r + "/test/neutral/img.png", r + "/train/happy/Training_1.png",
                                               r + "/train/happy/Training_2.png", r + "/train/sad/plain.bmp"});
  CHECK(ds.labels == std::vector<int32_t>{0, 0, 6, 3, 3, 4});  // canonical fer7 indices
  CHECK(ds.splits == std::vector<Split>{Split::private_test, Split::public_test, Split::test, Split::training,
                                        Split::training, Split::training});
  CHECK(same(ds, 0, pattern(5)));
  CHECK(same(ds, 3, pattern(2)));
  CHECK(same(ds, 5, pattern(3)));  // BMP
  CHECK(rep.ignored_files == 1);   // Thumbs.db (the hidden file is not even counted)
  CHECK(rep.skipped_bad == 0);
  const Dataset again = load_dataset(dir.path());
  CHECK(again.pixels == ds.pixels);
}

TEST_CASE("folder: other top-level folders (val/, validation/) are named in a note; hidden ones stay silent") {
  TempDir dir;
  make_tree(dir.path());
  const auto not_read_notes = [](const LoadReport& rep) {
    std::vector<std::string> out;
    for (const std::string& n : rep.notes)
      if (n.find(": not read") != std::string::npos) out.push_back(n);
    return out;
  };
  LoadReport plain;
  REQUIRE(read_image_folders(dir.path(), {}, &plain).size() == 6);
  CHECK(not_read_notes(plain).empty());  // README.txt at the root is a file: no note
  write_gray48(dir / "validation/happy/PublicTest_7.png", pattern(7));
  std::filesystem::create_directories(dir / "val");
  std::filesystem::create_directories(dir / ".cache/happy");
  fer::test::write_text(dir / "notes.md", "a file, not a folder");
  LoadReport rep;
  const Dataset ds = read_image_folders(dir.path(), {}, &rep);
  CHECK(ds.size() == 6);  // validation/ is still not read
  const std::string r = dir.path().string();
  CHECK(not_read_notes(rep) ==
        std::vector<std::string>{r + "/val/: not read (fer reads train/ and test/ only; images there are not used: "
                                     "move them into train/ or test/)",
                                 r + "/validation/: not read (fer reads train/ and test/ only; images there are not "
                                     "used: move them into train/ or test/)"});
}

TEST_CASE("folder: split_from_file_name") {
  CHECK(split_from_file_name("Training_1.jpg", false) == Split::training);
  CHECK(split_from_file_name("PublicTest_1.jpg", true) == Split::public_test);
  CHECK(split_from_file_name("PrivateTest_1.jpg", false) == Split::private_test);
  CHECK(split_from_file_name("im0.png", true) == Split::training);
  CHECK(split_from_file_name("im0.png", false) == Split::test);
  CHECK(split_from_file_name("training_1.jpg", false) == Split::test);  // prefixes are case-sensitive
}

TEST_CASE("folder: RGB 64x64 PNG and gray JPEG are converted to 48x48 gray") {
  TempDir dir;
  // A uniform RGB image: every output pixel is the BT.601 luma of the color.
  std::vector<uint8_t> rgb(64 * 64 * 3);
  for (size_t p = 0; p < rgb.size(); p += 3) {
    rgb[p] = 200;
    rgb[p + 1] = 100;
    rgb[p + 2] = 50;
  }
  std::filesystem::create_directories(dir / "train/fear");
  write_image(dir / "train/fear/rgb.png", rgb.data(), 64, 64, 3);
  // A smooth gray JPEG (lossy): decoded within a few levels.
  std::vector<uint8_t> smooth(kImagePixels);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) smooth[y * 48 + x] = static_cast<uint8_t>(40 + 2 * x + y);
  std::filesystem::create_directories(dir / "train/surprise");
  write_image(dir / "train/surprise/g.jpg", smooth.data(), 48, 48, 1, 95);
  const Dataset ds = read_image_folders(dir.path());
  REQUIRE(ds.size() == 2);
  const uint8_t y601 = luma601(200, 100, 50);  // (299*200 + 587*100 + 114*50 + 500) / 1000 = 124
  CHECK(y601 == 124);
  int wrong = 0;
  for (int p = 0; p < kImagePixels; ++p) wrong += ds.image(0)[p] != y601;
  CHECK(wrong == 0);
  int max_diff = 0;
  for (int p = 0; p < kImagePixels; ++p) max_diff = std::max(max_diff, std::abs(ds.image(1)[p] - smooth[p]));
  CHECK(max_diff <= 4);
  CHECK(ds.labels == std::vector<int32_t>{2, 5});
}

TEST_CASE("folder: bad inputs are one clear error naming the path; skip_bad counts them") {
  SUBCASE("truncated JPEG") {
    TempDir dir;
    make_tree(dir.path());
    write_image(dir / "train/happy/Training_3.jpg", pattern(7).data(), 48, 48, 1, 90);
    std::vector<uint8_t> bytes = read_file_bytes(dir / "train/happy/Training_3.jpg");
    bytes.resize(bytes.size() * 6 / 10);
    fer::test::write_bytes(dir / "train/happy/Training_3.jpg", bytes);
    const std::string path = (dir / "train/happy/Training_3.jpg").string();
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()),
                         doctest::Contains((path + ": truncated or corrupt JPEG (no end-of-image marker").c_str()), fer::Error);
    LoadOptions opt;
    opt.skip_bad = true;
    LoadReport rep;
    const Dataset ds = read_image_folders(dir.path(), opt, &rep);
    CHECK(ds.size() == 6);
    CHECK(rep.skipped_bad == 1);
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.messages[0].rfind(path + ": truncated", 0) == 0);
  }
  SUBCASE("truncated PNG and a file that is not an image") {
    TempDir dir;
    make_tree(dir.path());
    std::vector<uint8_t> bytes = read_file_bytes(dir / "train/happy/Training_1.png");
    bytes.resize(bytes.size() / 2);
    fer::test::write_bytes(dir / "train/happy/Training_1.png", bytes);
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()),
                         doctest::Contains((dir / "train/happy/Training_1.png").string().c_str()), fer::Error);
    TempDir dir2;
    make_tree(dir2.path());
    fer::test::write_text(dir2 / "test/neutral/zz.jpg", "this is text, not a JPEG");
    CHECK_THROWS_WITH_AS(read_image_folders(dir2.path()),
                         doctest::Contains(((dir2 / "test/neutral/zz.jpg").string() + ": not a readable image").c_str()), fer::Error);
  }
  SUBCASE("unknown class folder") {
    TempDir dir;
    make_tree(dir.path());
    write_gray48(dir / "train/happyy/Training_9.png", pattern(9));
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()),
                         doctest::Contains(((dir / "train/happyy").string() +
                                            ": unknown class folder 'happyy' holding 1 images; expected one of angry, "
                                            "disgust, fear, happy, neutral, sad, surprise (did you mean 'happy'?)")
                                               .c_str()),
                         fer::Error);
    LoadOptions opt;
    opt.skip_bad = true;
    LoadReport rep;
    CHECK(read_image_folders(dir.path(), opt, &rep).size() == 6);
    CHECK(rep.skipped_bad == 1);
    // --skip-bad counts every image of the folder it leaves out; no hint for an unrelated name
    write_gray48(dir / "train/surprised/Training_10.png", pattern(10));
    write_gray48(dir / "train/surprised/Training_11.png", pattern(11));
    write_gray48(dir / "test/contempt/PublicTest_12.png", pattern(12));
    LoadReport rep2;
    CHECK(read_image_folders(dir.path(), opt, &rep2).size() == 6);
    CHECK(rep2.skipped_bad == 4);
    const std::string messages = [&] {
      std::string all;
      for (const std::string& m : rep2.messages) all += m + "\n";
      return all;
    }();
    CHECK(messages.find("unknown class folder 'surprised' holding 2 images; expected one of angry, disgust, fear, "
                        "happy, neutral, sad, surprise (did you mean 'surprise'?)") != std::string::npos);
    CHECK(messages.find("unknown class folder 'contempt' holding 1 images; expected one of angry, disgust, fear, "
                        "happy, neutral, sad, surprise\n") != std::string::npos);
  }
  SUBCASE("an image outside a class folder") {
    TempDir dir;
    make_tree(dir.path());
    write_gray48(dir / "test/PublicTest_9.png", pattern(9));
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()), doctest::Contains("image outside a class folder"), fer::Error);
  }
  SUBCASE("missing folders and no images") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(read_image_folders(dir / "nope"), doctest::Contains("nope' does not exist"), fer::Error);
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()), doctest::Contains("has neither train/ nor test/"), fer::Error);
    std::filesystem::create_directories(dir / "train/happy");
    CHECK_THROWS_WITH_AS(read_image_folders(dir.path()), doctest::Contains("no images found"), fer::Error);
    CHECK_THROWS_WITH_AS(read_image_folders(dir / "train"), doctest::Contains("pass its parent folder"), fer::Error);
    CHECK_THROWS_WITH_AS(load_dataset(dir / "nope"), doctest::Contains("does not exist"), fer::Error);
  }
}

TEST_CASE("folder: only test/ is fine; fer6 drops the disgust folder; case-insensitive class names") {
  TempDir dir;
  write_gray48(dir / "test/Disgust/PublicTest_1.png", pattern(1));
  write_gray48(dir / "test/Fear/PublicTest_2.png", pattern(2));
  LoadReport rep;
  const Dataset ds7 = read_image_folders(dir.path(), {}, &rep);
  CHECK(ds7.labels == std::vector<int32_t>{1, 2});
  LoadOptions opt;
  opt.classes = fer6_classes();
  const Dataset ds6 = read_image_folders(dir.path(), opt, &rep);
  REQUIRE(ds6.size() == 1);
  CHECK(ds6.labels[0] == 1);  // fear in fer6
  CHECK(rep.dropped_class == 1);
}

TEST_CASE("image_io: resize rules (identity, area averaging, bilinear)") {
  // Identity copies.
  const std::vector<uint8_t> p = pattern(3);
  std::vector<uint8_t> out(kImagePixels);
  resize_gray(p.data(), 48, 48, out.data(), 48, 48);
  CHECK(out == p);
  // 96 -> 48: each output pixel is the mean of a 2x2 block (rounded half up).
  std::vector<uint8_t> big(96 * 96);
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x) big[y * 96 + x] = static_cast<uint8_t>(((x % 2) + 2 * (y % 2)) * 10 + x);
  resize_gray(big.data(), 96, 96, out.data(), 48, 48);
  // block (bx,by): values (0 + 2bx) + (10 + 2bx+1) + (20 + 2bx) + (30 + 2bx + 1) = 60 + 8bx + 2 -> mean 15.5 + 2bx -> 16 + 2bx
  CHECK(out[0] == 16);
  CHECK(out[5 * 48 + 7] == 16 + 14);
  // 72 -> 48 (ratio 1.5, fractional coverage): a constant stays constant, the mean is preserved.
  std::vector<uint8_t> c72(72 * 72, 77);
  resize_gray(c72.data(), 72, 72, out.data(), 48, 48);
  CHECK(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 77; }));
  std::vector<uint8_t> stripes(72 * 72);
  for (int y = 0; y < 72; ++y)
    for (int x = 0; x < 72; ++x) stripes[y * 72 + x] = (x % 3 == 0) ? 255 : 0;  // pixel 0 of each triple
  resize_gray(stripes.data(), 72, 72, out.data(), 48, 48);
  // output 0 covers source [0, 1.5): 1 * 255 + 0.5 * 0 -> 170; output 1 covers [1.5, 3): 0.5*0 + 1*0 -> 0
  CHECK(out[0] == 170);
  CHECK(out[1] == 0);
  // 24 -> 48 bilinear, centres aligned (x_src = (o + 0.5) / 2 - 0.5) on the ramp 0, 10, 20, ...
  std::vector<uint8_t> small(24 * 24);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 24; ++x) small[y * 24 + x] = static_cast<uint8_t>(10 * x);
  resize_gray(small.data(), 24, 24, out.data(), 48, 48);
  CHECK(out[0] == 0);    // x_src = -0.25 -> clamped to 0
  CHECK(out[1] == 3);    // x_src = 0.25 -> 2.5 -> 3
  CHECK(out[2] == 8);    // x_src = 0.75 -> 7.5 -> 8
  CHECK(out[46] == 228);  // x_src = 22.75 -> 227.5 -> 228
  CHECK(out[47] == 230);  // x_src = 23.25 -> clamped to 23
}

TEST_CASE("image_io: decode errors and luma") {
  CHECK(luma601(255, 255, 255) == 255);
  CHECK(luma601(255, 0, 0) == 76);
  CHECK(luma601(0, 255, 0) == 150);
  CHECK(luma601(0, 0, 255) == 29);
  std::vector<uint8_t> out(kImagePixels);
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(decode_to_gray48(junk, sizeof junk, out.data()).find("not a readable image") == 0);
  CHECK(decode_to_gray48(junk, 0, out.data()) == "empty file");
  CHECK_THROWS_WITH_AS(load_image_gray48("/nonexistent.png"), doctest::Contains("/nonexistent.png: cannot open"), fer::Error);
  // RGBA: alpha is ignored.
  TempDir dir;
  std::vector<uint8_t> rgba(50 * 40 * 4);
  for (size_t p = 0; p < rgba.size(); p += 4) {
    rgba[p] = 0;
    rgba[p + 1] = 255;
    rgba[p + 2] = 0;
    rgba[p + 3] = static_cast<uint8_t>(p % 256);
  }
  write_image(dir / "a.png", rgba.data(), 50, 40, 4);
  const std::vector<uint8_t> g = load_image_gray48(dir / "a.png");
  CHECK(std::all_of(g.begin(), g.end(), [](uint8_t v) { return v == 150; }));
  CHECK_THROWS_WITH_AS(write_image(dir / "a.gif", rgba.data(), 50, 40, 4), doctest::Contains("unknown extension"), fer::Error);
}

TEST_CASE("image_io: only JPEG, PNG and BMP are decoded (fuzz regression)") {
  // tests/fuzz/fuzz_image.cpp found signed-integer overflow in stb_image's PNM header parser on
  // "P66666666666\xff"; fer reads .jpg/.jpeg/.png/.bmp only, so the other decoders are compiled out.
  std::vector<uint8_t> out(kImagePixels);
  const std::string pnm_overflow = "P66666666666\xff";
  CHECK(decode_to_gray48(reinterpret_cast<const uint8_t*>(pnm_overflow.data()), pnm_overflow.size(), out.data())
            .find("not a readable image") == 0);
  const std::string pgm = std::string("P5 2 2 255\n") + "\x01\x02\x03\x04";
  CHECK(decode_to_gray48(reinterpret_cast<const uint8_t*>(pgm.data()), pgm.size(), out.data()).find("not a readable image") ==
        0);
  const std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
  CHECK(decode_to_gray48(reinterpret_cast<const uint8_t*>(gif.data()), gif.size(), out.data()).find("not a readable image") ==
        0);
}

TEST_CASE("image_io: a JPEG whose DC coefficients overflow stb_image 2.27's int arithmetic decodes or fails cleanly") {
  // The fuzzer's crasher (UBSan: signed overflow in `dc * dequant[0]`); stb_impl.cpp is compiled with
  // -fwrapv, so the arithmetic wraps. The sanitizer build and scripts/fuzz.sh (which replays the seed
  // corpus) check that no undefined behaviour is left; here: it decodes, to the same pixels every time.
  const std::vector<uint8_t> bytes =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/crash-stb-dc-overflow.jpg");
  std::vector<uint8_t> out(kImagePixels, 7), again(kImagePixels, 9);
  CHECK(decode_to_gray48(bytes.data(), bytes.size(), out.data()) == "");
  CHECK(decode_to_gray48(bytes.data(), bytes.size(), again.data()) == "");
  CHECK(out == again);
}

TEST_CASE("image_io: a JPEG Huffman table of more than 256 codes is refused before stb_image (fuzz regression)") {
  // stb_image 2.27 indexes past its 257-entry table for such a table (ASan/UBSan report); the input
  // is the fuzzer's crasher, kept in the seed corpus so scripts/fuzz.sh replays it too.
  const std::vector<uint8_t> bytes =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/crash-stb-huffman-257.jpg");
  std::vector<uint8_t> out(kImagePixels);
  CHECK(decode_to_gray48(bytes.data(), bytes.size(), out.data()) ==
        "corrupt JPEG (a Huffman table declares more than 256 codes)");
  // The same table in a truncated file (no end-of-image marker): stbi_info_from_memory alone
  // already parses it, so the check runs before any stb call.
  const std::vector<uint8_t> cut =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/crash-stb-huffman-257-info.jpg");
  CHECK(decode_to_gray48(cut.data(), cut.size(), out.data()) ==
        "corrupt JPEG (a Huffman table declares more than 256 codes)");
  // ... and in a file that starts FF FF D8 (stb skips 0xFF fill bytes before the start-of-image code).
  const std::vector<uint8_t> fill =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/crash-stb-huffman-257-fill.jpg");
  REQUIRE(fill.size() > 3);
  CHECK((fill[0] == 0xFF && fill[1] == 0xFF && fill[2] == 0xD8));
  CHECK(decode_to_gray48(fill.data(), fill.size(), out.data()) ==
        "corrupt JPEG (a Huffman table declares more than 256 codes)");
  // A valid JPEG (whose DHT segments are all walked) still decodes.
  TempDir dir;
  std::vector<uint8_t> gray(8 * 8);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<uint8_t>(i * 4);
  write_image(dir / "g.jpg", gray.data(), 8, 8, 1, 90);
  const std::vector<uint8_t> good = read_file_bytes(dir / "g.jpg");
  CHECK(decode_to_gray48(good.data(), good.size(), out.data()) == "");
}

TEST_CASE("image_io: write_image replaces files atomically and leaves no temporary file") {
  TempDir dir;
  std::vector<uint8_t> gray(6 * 4, 7);
  write_image(dir / "a.png", gray.data(), 6, 4, 1);
  gray.assign(gray.size(), 200);
  write_image(dir / "a.png", gray.data(), 6, 4, 1);
  write_image(dir / "a.bmp", gray.data(), 6, 4, 1);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    files++;
    CHECK(e.path().filename().string()[0] != '.');  // no ".a.png.tmp-XXXXXX" left behind
  }
  CHECK(files == 2);
  const std::vector<uint8_t> g = load_image_gray48(dir / "a.png");
  CHECK(std::all_of(g.begin(), g.end(), [](uint8_t v) { return v == 200; }));
  CHECK_THROWS_WITH_AS(write_image(dir / "missing" / "a.png", gray.data(), 6, 4, 1),
                       doctest::Contains("cannot create a temporary file"), fer::Error);
}

TEST_CASE("image_io: a PNG chunk running past the end of the file is refused before stb allocates (fuzz regression)") {
  // The fuzzer's input: 173 bytes whose second IDAT chunk declares 0x49454E44 bytes; stb_image 2.27
  // grew its buffer to 2 GiB for it.
  const std::vector<uint8_t> bytes =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/oom-stb-png-idat-length.png");
  std::vector<uint8_t> out(kImagePixels);
  CHECK(decode_to_gray48(bytes.data(), bytes.size(), out.data()) ==
        "truncated or corrupt PNG (a chunk runs past the end of the file, or the first IDAT chunk is empty)");
  // The CI fuzz run of 2026-12-07: a 48x48 PNG whose first IDAT chunk is empty made stb_image
  // memcpy 0 bytes into a null buffer (UBSan: null pointer passed as argument 1).
  const std::vector<uint8_t> empty_idat =
      read_file_bytes(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/ubsan-stb-png-empty-idat.png");
  CHECK(decode_to_gray48(empty_idat.data(), empty_idat.size(), out.data()).find("the first IDAT chunk is empty") !=
        std::string::npos);
  // A whole PNG still decodes, and one cut inside its last chunk is refused the same way.
  TempDir dir;
  std::vector<uint8_t> gray(48 * 48, 90);
  write_image(dir / "g.png", gray.data(), 48, 48, 1);
  const std::vector<uint8_t> good = read_file_bytes(dir / "g.png");
  REQUIRE(decode_to_gray48(good.data(), good.size(), out.data()) == "");
  CHECK(out[100] == 90);
  const std::vector<uint8_t> cut(good.begin(), good.end() - 20);
  CHECK(decode_to_gray48(cut.data(), cut.size(), out.data()).find("truncated or corrupt PNG") == 0);
}
