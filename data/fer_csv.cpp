// data/fer_csv.cpp: the FER2013 CSV reader (hand-written, parallel over rows) and writer.
//
// Reading goes in three passes over the text held in memory:
//   1. records: split at line ends outside quotes (memchr for '\n'; a record whose quote count is
//      odd continues on the next line), remembering each record's first line number;
//   2. rows (OpenMP, independent): split the record into fields, parse emotion, pixels and Usage
//      into the row's own slot of a pre-sized buffer, or leave an error message in its slot;
//   3. in file order: report bad rows (first one throws unless skip_bad), compact the good ones.
#include "data/fer_csv.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <sstream>

#include "data/read_common.h"
#include "kernels/common.h"
#include "tensor/atomic_file.h"

namespace fer::data {

namespace {

struct Record {
  size_t begin, end;  // [begin, end) in the text, without the line end
  int64_t line;       // 1-based line number of the record's first line
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Pass 1: records of the text starting at `pos`. Line ends are '\n' with an optional '\r' before it.
std::vector<Record> find_records(std::string_view text, size_t pos) {
  std::vector<Record> records;
  records.reserve(text.size() / 4096 + 16);
  int64_t line = 1;
  while (pos < text.size()) {
    const int64_t first_line = line;
    const size_t begin = pos;
    size_t quotes = 0;
    size_t end = text.size();
    while (true) {
      const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
      const size_t stop = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
      quotes += static_cast<size_t>(std::count(text.data() + pos, text.data() + stop, '"'));
      if (!nl) {  // last record without a final newline
        end = stop;
        pos = text.size();
        break;
      }
      line++;
      pos = stop + 1;
      if (quotes % 2 == 0) {  // the newline is outside quotes: the record ends here
        end = stop;
        break;
      }
    }
    if (end > begin && text[end - 1] == '\r') end--;
    // Blank lines after the header are dropped here, so a file of newlines costs no memory per line.
    if (!records.empty() && trim(text.substr(begin, end - begin)).empty()) continue;
    records.push_back(Record{begin, end, first_line});
  }
  return records;
}

// Splits one record into fields (RFC 4180). Unquoted fields are views into the record; quoted
// fields are views without the quotes, or copies in `storage` when they contain "" escapes.
// Returns false with `error` set for a malformed quote.
bool split_fields(std::string_view rec, std::vector<std::string_view>& fields, std::deque<std::string>& storage,
                  std::string& error) {
  fields.clear();
  size_t i = 0;
  while (true) {
    // Leading spaces before an opening quote are allowed ("a, "b"").
    size_t j = i;
    while (j < rec.size() && (rec[j] == ' ' || rec[j] == '\t')) j++;
    if (j < rec.size() && rec[j] == '"') {
      size_t k = j + 1;
      bool escaped = false;
      while (true) {
        if (k >= rec.size()) {
          error = "a quoted field is not closed (missing '\"')";
          return false;
        }
        if (rec[k] == '"') {
          if (k + 1 < rec.size() && rec[k + 1] == '"') {
            escaped = true;
            k += 2;
            continue;
          }
          break;
        }
        k++;
      }
      std::string_view inner = rec.substr(j + 1, k - j - 1);
      if (escaped) {
        std::string s;
        for (size_t t = 0; t < inner.size(); ++t) {
          s.push_back(inner[t]);
          if (inner[t] == '"') t++;  // skip the second quote of ""
        }
        storage.push_back(std::move(s));
        inner = storage.back();
      }
      fields.push_back(inner);
      k++;
      while (k < rec.size() && (rec[k] == ' ' || rec[k] == '\t')) k++;
      if (k == rec.size()) return true;
      if (rec[k] != ',') {
        error = "unexpected text after a closing quote";
        return false;
      }
      i = k + 1;
    } else {
      const void* comma = std::memchr(rec.data() + i, ',', rec.size() - i);
      if (!comma) {
        fields.push_back(rec.substr(i));
        return true;
      }
      const size_t c = static_cast<size_t>(static_cast<const char*>(comma) - rec.data());
      fields.push_back(rec.substr(i, c - i));
      i = c + 1;
    }
  }
}

// Parses exactly 2,304 integers 0..255 separated by whitespace into `out`. Returns "" or the error.
std::string parse_pixels(std::string_view s, uint8_t* out) {
  int count = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (true) {
    while (i < n && is_space(s[i])) i++;
    if (i == n) break;
    const size_t start = i;
    uint32_t v = 0;
    int digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) v = v * 10 + static_cast<uint32_t>(s[i] - '0');
      digits++;
      i++;
    }
    if (digits == 0 || (i < n && !is_space(s[i]))) {
      size_t stop = i;
      while (stop < n && !is_space(s[stop])) stop++;
      std::ostringstream os;
      os << "pixel " << count << " is '" << s.substr(start, std::min<size_t>(stop - start, 20))
         << "', expected an integer 0..255";
      return os.str();
    }
    if (digits > 3 || v > 255) {
      std::ostringstream os;
      os << "pixel " << count << " is " << s.substr(start, std::min<size_t>(i - start, 20))
         << ", expected an integer 0..255";
      return os.str();
    }
    if (count < kImagePixels) out[count] = static_cast<uint8_t>(v);
    count++;
  }
  if (count != kImagePixels) {
    std::ostringstream os;
    os << "pixels holds " << count << " values, expected " << kImagePixels << " (48x48)";
    return os.str();
  }
  return "";
}

enum class Column { emotion, pixels, usage, other };

}  // namespace

Dataset parse_fer_csv(std::string_view text, const std::string& name, const LoadOptions& options,
                      LoadReport* report) {
  detail::BadEntries bad(options, report);
  size_t start = 0;
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF)
    start = 3;  // UTF-8 byte-order mark
  const std::vector<Record> records = find_records(text, start);
  FER_CHECK(!records.empty(), name << ": the file is empty; expected a header 'emotion,pixels,Usage' and one row "
                                   << "per image");

  // Header: which field is which column.
  std::vector<std::string_view> fields;
  std::deque<std::string> storage;
  std::string error;
  const Record& head = records[0];
  const std::string_view head_text = text.substr(head.begin, head.end - head.begin);
  FER_CHECK(split_fields(head_text, fields, storage, error), name << ":1: header: " << error);
  std::vector<Column> columns;
  int col_emotion = -1, col_pixels = -1, col_usage = -1;
  for (size_t f = 0; f < fields.size(); ++f) {
    const std::string key = lower(trim(fields[f]));
    int* slot = key == "emotion" ? &col_emotion : key == "pixels" ? &col_pixels : key == "usage" ? &col_usage : nullptr;
    if (!slot) {
      bad.report().notes.push_back(name + ": column '" + std::string(trim(fields[f])) + "' ignored");
      continue;
    }
    FER_CHECK(*slot < 0, name << ":1: header names column '" << key << "' twice");
    *slot = static_cast<int>(f);
  }
  std::string shown(head_text.substr(0, 80));  // printable for the message, even for a binary file
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = '?';
  FER_CHECK(col_emotion >= 0 && col_pixels >= 0,
            name << ":1: header '" << shown << "' does not name the columns emotion "
                 << "and pixels; expected 'emotion,pixels,Usage' (hint: is this the Kaggle fer2013.csv?)");
  if (col_usage < 0) bad.report().notes.push_back(name + ": no Usage column; every image has split 'unknown'");
  const size_t n_fields = fields.size();

  // Pass 2: parse rows in parallel, each into its own slot.
  const int64_t n = static_cast<int64_t>(records.size()) - 1;
  // Pixel slots only for rows long enough to hold 2,304 values (one digit each, a space between):
  // shorter rows are bad anyway, and sizing the buffer by the row count would let a small file of
  // short lines ask for 2,304 bytes per line.
  constexpr size_t kMinRowChars = 2 * static_cast<size_t>(kImagePixels) - 1;
  std::vector<int64_t> slot(n, -1);
  int64_t n_slots = 0;
  for (int64_t r = 0; r < n; ++r)
    if (records[r + 1].end - records[r + 1].begin >= kMinRowChars) slot[r] = n_slots++;
  std::vector<uint8_t> pixels(static_cast<size_t>(n_slots) * kImagePixels);
  std::vector<int32_t> labels(n, -1);  // fer7 label; -1 = blank line
  std::vector<Split> splits(n, Split::unknown);
  std::vector<std::string> errors(n);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::string_view> f;
    std::deque<std::string> store;
    std::string err;
    std::vector<uint8_t> scratch(kImagePixels);  // pixels of rows too short to have a slot
#pragma omp for schedule(dynamic, 256)
    for (int64_t r = 0; r < n; ++r) {
      const Record& rec = records[r + 1];
      const std::string_view row = text.substr(rec.begin, rec.end - rec.begin);
      if (trim(row).empty()) continue;  // blank line
      store.clear();
      if (!split_fields(row, f, store, err)) {
        errors[r] = err;
        continue;
      }
      if (f.size() != n_fields) {
        errors[r] = "row has " + std::to_string(f.size()) + " fields, the header has " + std::to_string(n_fields) +
                    " (expected emotion,pixels" + (col_usage >= 0 ? ",Usage)" : ")");
        continue;
      }
      const std::string_view emo = trim(f[col_emotion]);
      int64_t label = -1;
      if (!emo.empty() && emo.size() <= 9 && std::all_of(emo.begin(), emo.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        label = 0;
        for (char c : emo) label = label * 10 + (c - '0');
      }
      if (fer7_from_csv_label(label) < 0) {
        errors[r] = "emotion is '" + std::string(emo.substr(0, 20)) +
                    "', expected an integer 0..6 (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral)";
        continue;
      }
      std::string perr = parse_pixels(f[col_pixels], slot[r] >= 0 ? pixels.data() + slot[r] * kImagePixels : scratch.data());
      if (!perr.empty()) {
        errors[r] = std::move(perr);
        continue;
      }
      if (col_usage >= 0) {
        const std::string u = lower(trim(f[col_usage]));
        if (u == "training") splits[r] = Split::training;
        else if (u == "publictest") splits[r] = Split::public_test;
        else if (u == "privatetest") splits[r] = Split::private_test;
        else if (!u.empty()) {
          errors[r] = "Usage is '" + std::string(trim(f[col_usage]).substr(0, 20)) +
                      "', expected Training, PublicTest or PrivateTest";
          continue;
        }
      }
      labels[r] = static_cast<int32_t>(label);
    }
  }

  // Pass 3: in file order, report bad rows and keep the good ones (compacting in place).
  Dataset ds;
  ds.classes = options.classes;
  ds.origin = name;
  int64_t kept = 0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t line = records[r + 1].line;
    if (!errors[r].empty()) {
      bad.bad(name + ":" + std::to_string(line) + ": " + errors[r]);
      continue;
    }
    if (labels[r] < 0) continue;  // blank line
    const int y = options.classes.from_fer7[labels[r]];
    if (y < 0) {
      bad.report().dropped_class++;
      continue;
    }
    FER_CHECK(slot[r] >= 0, name << ":" << line << ": internal error: a good row without a pixel slot");
    if (kept != slot[r])
      std::memmove(pixels.data() + kept * kImagePixels, pixels.data() + slot[r] * kImagePixels, kImagePixels);
    ds.labels.push_back(y);
    ds.splits.push_back(splits[r]);
    ds.sources.push_back(name + ":" + std::to_string(line));
    kept++;
  }
  pixels.resize(static_cast<size_t>(kept) * kImagePixels);
  pixels.shrink_to_fit();
  ds.pixels = std::move(pixels);
  if (bad.report().dropped_class > 0)
    bad.report().notes.push_back(name + ": dropped " + std::to_string(bad.report().dropped_class) +
                                 " images of classes not in class set " + options.classes.id);
  bad.finish(name.c_str(), kept);
  FER_CHECK(kept > 0, name << ": no images (" << n << " rows after the header, " << bad.report().skipped_bad
                           << " bad, " << bad.report().dropped_class << " of dropped classes)");
  return ds;
}

Dataset read_fer_csv(const std::filesystem::path& path, const LoadOptions& options, LoadReport* report) {
  std::FILE* f = std::fopen(path.string().c_str(), "rb");
  FER_CHECK(f != nullptr, "read_fer_csv: cannot open '" << path.string() << "': " << std::strerror(errno)
                                                        << " (hint: --data takes a FER2013 .csv or an image folder)");
  std::string text;
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  text.resize(size > 0 ? static_cast<size_t>(size) : 0);
  const size_t got = text.empty() ? 0 : std::fread(text.data(), 1, text.size(), f);
  std::fclose(f);
  FER_CHECK(got == text.size(), "read_fer_csv: read " << got << " of " << text.size() << " bytes of '"
                                                      << path.string() << "'");
  return parse_fer_csv(text, path.string(), options, report);
}

void write_fer_csv(const Dataset& ds, const std::filesystem::path& path, const std::vector<int64_t>* indices) {
  std::vector<int> to_fer7(ds.num_classes(), -1);
  for (int k = 0; k < kFer7Classes; ++k)
    if (ds.classes.from_fer7[k] >= 0) to_fer7[ds.classes.from_fer7[k]] = k;
  // Atomic (temporary file + fsync + rename): a reader never sees a half-written CSV.
  AtomicFileWriter writer(path.string());
  std::ostream& out = writer.stream();
  out << "emotion,pixels,Usage\n";
  std::string line;
  const int64_t n = indices ? static_cast<int64_t>(indices->size()) : ds.size();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = indices ? (*indices)[k] : k;
    FER_CHECK(i >= 0 && i < ds.size(), "write_fer_csv: index " << i << " is outside 0.." << ds.size() - 1);
    line = std::to_string(to_fer7[ds.labels[i]]) + ",";
    const uint8_t* img = ds.image(i);
    for (int p = 0; p < kImagePixels; ++p) {
      if (p) line.push_back(' ');
      line += std::to_string(img[p]);
    }
    const Split s = ds.splits[i];
    line += ",";
    if (s == Split::training || s == Split::public_test || s == Split::private_test) line += split_name(s);
    line.push_back('\n');
    out << line;
  }
  FER_CHECK(out.good(), "write_fer_csv: writing '" << path.string() << "' failed; hint: is the disk full?");
  writer.commit();
}

}  // namespace fer::data
