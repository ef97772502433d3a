// nn/safetensors.cpp: the safetensors format (see safetensors.h).
#include "nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "nn/atomic_file.h"

namespace fer::nn::safetensors {

static_assert(std::endian::native == std::endian::little,
              "safetensors: the format is little-endian and fer copies bytes as they are");

namespace {

using nlohmann::json;

// Headers beyond this are refused before allocating (the reference implementation uses 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct Header {
  std::map<std::string, File::Entry> entries;
  std::map<std::string, std::string> metadata;
};

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

std::string names_preview(const std::map<std::string, File::Entry>& entries) {
  std::ostringstream os;
  int shown = 0;
  for (const auto& [name, e] : entries) {
    if (shown == 8) {
      os << ", ... (" << entries.size() << " in all)";
      break;
    }
    os << (shown++ ? ", " : "") << "'" << name << "'";
  }
  if (entries.empty()) os << "(none)";
  return os.str();
}

// Validates the JSON header against a data section of `data_size` bytes.
Header parse_header(std::string_view text, uint64_t data_size, const std::string& what) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    FER_FAIL("safetensors: '" << what << "': the header is not valid JSON (" << e.what()
                              << "); hint: the file is corrupt or not a safetensors file");
  }
  FER_CHECK(j.is_object(), "safetensors: '" << what << "': the header is a JSON " << j.type_name()
                                            << ", expected an object of tensor entries");
  Header h;
  struct Range {
    size_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      FER_CHECK(v.is_object(), "safetensors: '" << what << "': __metadata__ is a JSON " << v.type_name()
                                                << ", expected an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        FER_CHECK(m.value().is_string(), "safetensors: '" << what << "': __metadata__['" << m.key() << "'] is a JSON "
                                                          << m.value().type_name() << ", expected a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string field = "tensor '" + name + "'";
    FER_CHECK(!name.empty(), "safetensors: '" << what << "': a tensor has an empty name");
    FER_CHECK(v.is_object(), "safetensors: '" << what << "': " << field << " is a JSON " << v.type_name()
                                              << ", expected {dtype, shape, data_offsets}");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      FER_CHECK(v.contains(key), "safetensors: '" << what << "': " << field << " has no '" << key << "' field");
    const json& jd = v["dtype"];
    FER_CHECK(jd.is_string(), "safetensors: '" << what << "': " << field << ": dtype is a JSON " << jd.type_name()
                                               << ", expected a string such as \"F32\"");
    File::Entry e;
    e.dtype = dtype_from_string(jd.get<std::string>(), what + "': " + field + ": dtype");
    const json& js = v["shape"];
    FER_CHECK(js.is_array(), "safetensors: '" << what << "': " << field << ": shape is a JSON " << js.type_name()
                                              << ", expected an array of sizes");
    uint64_t numel = 1;
    for (const json& d : js) {
      FER_CHECK(d.is_number_unsigned(), "safetensors: '" << what << "': " << field << ": shape " << js.dump()
                                                         << " holds " << d.dump() << ", expected non-negative integers");
      const uint64_t n = d.get<uint64_t>();
      FER_CHECK(n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                    (n == 0 || numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n),
                "safetensors: '" << what << "': " << field << ": shape " << js.dump() << " overflows");
      numel *= n;
      e.shape.push_back(static_cast<int64_t>(n));
    }
    const json& jo = v["data_offsets"];
    FER_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() && jo[1].is_number_unsigned(),
              "safetensors: '" << what << "': " << field << ": data_offsets is " << jo.dump()
                               << ", expected [begin, end] (non-negative integers)");
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    FER_CHECK(begin <= end, "safetensors: '" << what << "': " << field << ": data_offsets [" << begin << ", " << end
                                             << "] ends before it begins");
    FER_CHECK(end <= data_size, "safetensors: '" << what << "': " << field << ": data_offsets [" << begin << ", "
                                                 << end << "] run past the data section (" << data_size
                                                 << " bytes); hint: the file is truncated");
    const uint64_t elem = dtype_size(e.dtype);
    FER_CHECK(numel <= std::numeric_limits<uint64_t>::max() / elem && end - begin == numel * elem,
              "safetensors: '" << what << "': " << field << ": shape " << js.dump() << " of "
                               << dtype_to_string(e.dtype) << " needs " << numel << " x " << elem
                               << " bytes but data_offsets [" << begin << ", " << end << "] hold " << end - begin);
    e.begin = static_cast<size_t>(begin);
    e.end = static_cast<size_t>(end);
    auto [pos, inserted] = h.entries.emplace(name, std::move(e));
    FER_CHECK(inserted, "safetensors: '" << what << "': tensor '" << name << "' appears twice");
    if (end > begin) ranges.push_back({pos->second.begin, pos->second.end, &pos->first});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    FER_CHECK(ranges[i].begin >= ranges[i - 1].end,
              "safetensors: '" << what << "': data_offsets overlap: tensor '" << *ranges[i - 1].name << "' ["
                               << ranges[i - 1].begin << ", " << ranges[i - 1].end << ") and tensor '"
                               << *ranges[i].name << "' [" << ranges[i].begin << ", " << ranges[i].end << ")");
  return h;
}

// Header length from the first 8 bytes of a file of `file_size` bytes, validated.
uint64_t header_length(const char* first8, uint64_t file_size, const std::string& what) {
  FER_CHECK(file_size >= 8, "safetensors: '" << what << "': " << file_size
                                             << " bytes is too short for the 8-byte header length; hint: the file "
                                                "is truncated or empty");
  const uint64_t n = read_u64_le(first8);
  FER_CHECK(n <= file_size - 8, "safetensors: '" << what << "': header length " << n << " exceeds the "
                                                 << file_size - 8 << " bytes after it; hint: the file is truncated "
                                                 << "or not a safetensors file");
  FER_CHECK(n <= kMaxHeaderBytes, "safetensors: '" << what << "': header length " << n << " is over the "
                                                   << kMaxHeaderBytes << "-byte limit");
  return n;
}

void write_all(std::ostream& os, const std::vector<TensorRef>& tensors,
               const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  uint64_t offset = 0;
  for (const TensorRef& r : tensors) {
    FER_CHECK(!r.name.empty(), "safetensors::save: a tensor has an empty name");
    FER_CHECK(r.name != "__metadata__", "safetensors::save: '__metadata__' is reserved and cannot name a tensor");
    FER_CHECK(seen.insert(r.name).second, "safetensors::save: tensor name '" << r.name << "' appears twice");
    FER_CHECK(r.tensor.defined(), "safetensors::save: tensor '" << r.name << "' is undefined");
    // fer tensors are always dense row-major, so the host copy is already contiguous.
    Tensor t = r.tensor.to(Device::cpu);
    const uint64_t n = t.nbytes();
    header[r.name] = {{"dtype", dtype_to_string(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    host.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t len = text.size();
  char len_bytes[8];
  std::memcpy(len_bytes, &len, 8);
  os.write(len_bytes, 8);
  os.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const Tensor& t : host)
    if (t.nbytes() > 0) os.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
}

}  // namespace

const char* dtype_to_string(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::u8: return "U8";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

DType dtype_from_string(const std::string& name, const std::string& what) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "BF16") return DType::bf16;
  if (name == "U8") return DType::u8;
  if (name == "I32") return DType::i32;
  if (name == "I64") return DType::i64;
  FER_FAIL("safetensors: '" << what << " '" << name
                            << "' is not one fer reads (F32, F64, BF16, U8, I32, I64); hint: convert the tensor "
                               "before saving, e.g. t.float()");
}

void save(const std::string& path, const std::vector<TensorRef>& tensors,
          const std::map<std::string, std::string>& metadata) {
  AtomicFileWriter w(path);
  write_all(w.stream(), tensors, metadata);
  w.commit();
}

std::string serialize(const std::vector<TensorRef>& tensors, const std::map<std::string, std::string>& metadata) {
  std::ostringstream os(std::ios::binary);
  write_all(os, tensors, metadata);
  return std::move(os).str();
}

std::map<std::string, std::string> read_metadata(const std::string& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  FER_CHECK(!ec, "safetensors: cannot read '" << path << "': " << ec.message());
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in, "safetensors: cannot open '" << path << "'");
  char first8[8] = {};
  in.read(first8, size >= 8 ? 8 : 0);
  const uint64_t n = header_length(first8, size, path);
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  FER_CHECK(in.gcount() == static_cast<std::streamsize>(n), "safetensors: '" << path << "': short read of the header");
  return parse_header(text, size - 8 - n, path).metadata;
}

File File::load(const std::string& path) {
  std::error_code ec;
  FER_CHECK(std::filesystem::is_regular_file(path, ec), "safetensors: '" << path << "' is not a readable file"
                                                                         << (ec ? " (" + ec.message() + ")" : ""));
  const uint64_t size = std::filesystem::file_size(path, ec);
  FER_CHECK(!ec, "safetensors: cannot read '" << path << "': " << ec.message());
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in, "safetensors: cannot open '" << path << "'");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  FER_CHECK(static_cast<uint64_t>(in.gcount()) == size, "safetensors: '" << path << "': read " << in.gcount()
                                                                         << " of " << size << " bytes");
  return parse(std::move(bytes), path);
}

File File::parse(std::string bytes, const std::string& what) {
  File f;
  f.what_ = what;
  const uint64_t n = header_length(bytes.data(), bytes.size(), what);
  Header h = parse_header(std::string_view(bytes).substr(8, n), bytes.size() - 8 - n, what);
  f.entries_ = std::move(h.entries);
  f.metadata_ = std::move(h.metadata);
  f.data_start_ = 8 + n;
  f.bytes_ = std::move(bytes);
  return f;
}

std::vector<std::string> File::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

const File::Entry& File::entry(const std::string& name) const {
  auto it = entries_.find(name);
  FER_CHECK(it != entries_.end(), "safetensors: '" << what_ << "' has no tensor '" << name << "'; it holds "
                                                   << names_preview(entries_));
  return it->second;
}

Tensor File::at(const std::string& name) const {
  const Entry& e = entry(name);
  Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu);
  if (e.end > e.begin) std::memcpy(t.raw_data(), bytes_.data() + data_start_ + e.begin, e.end - e.begin);
  return t;
}

void File::copy_to(const std::string& name, Tensor& dst) const {
  const Entry& e = entry(name);
  FER_CHECK(dst.defined(), "safetensors: copying '" << name << "' from '" << what_ << "' into an undefined tensor");
  FER_CHECK(e.shape == dst.shape() && e.dtype == dst.dtype(),
            "safetensors: '" << what_ << "': tensor '" << name << "' is " << dtype_name(e.dtype)
                             << shape_str(e.shape) << " in the file, expected " << dtype_name(dst.dtype())
                             << shape_str(dst.shape()));
  if (dst.device() == Device::cpu) {
    if (e.end > e.begin) std::memcpy(dst.raw_data(), bytes_.data() + data_start_ + e.begin, e.end - e.begin);
  } else {
    dst.copy_from(at(name));
  }
}

}  // namespace fer::nn::safetensors
