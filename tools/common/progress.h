// tools/common/progress.h: training progress for humans.
//
// On a terminal: one line redrawn in place with the epoch, a bar, loss, accuracy, images/s and the
// ETA of the epoch. Otherwise (a pipe, a log file, CI): no bar, only the per-epoch summary lines,
// so logs stay readable, and with fertrain --log-interval N a plain line every N steps (log_line).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fer::tools {

class Progress {
 public:
  // enabled=false forces plain output even on a terminal.
  explicit Progress(bool enabled, std::FILE* out = stderr);
  // A resumed epoch starts at `first_step` with `images_before` images already counted: the ETA and
  // images/s measure this process's part only.
  void start_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step = 0, int64_t images_before = 0);
  // After each step: running mean loss and accuracy of the epoch so far.
  void step(int64_t step, double loss, double accuracy, int64_t images_done);
  // One plain line (no bar, no carriage return): the step, the running loss and accuracy, images/s
  // and the ETA of the epoch and of the run (`epochs_after` more epochs at this epoch's pace,
  // validation not counted). For logs; the caller prints it only when !interactive().
  void log_line(int64_t step, double loss, double accuracy, int64_t images_done, int64_t epochs_after);
  // Clears the bar; the caller prints the epoch summary line itself.
  void end_epoch();
  bool interactive() const { return interactive_; }

 private:
  std::FILE* out_;
  bool interactive_;
  int64_t epoch_ = 0, epochs_ = 0, steps_ = 0, first_step_ = 0, images_before_ = 0;
  // seconds so far, the fraction of this process's steps done, and their images per second
  double elapsed() const;
  double done_fraction(int64_t step) const;
  double images_per_second(int64_t images_done) const;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1m 05s", "12.3 s", "2h 03m".
std::string format_duration(double seconds);

}  // namespace fer::tools
