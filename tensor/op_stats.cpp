// tensor/op_stats.cpp: see op_stats.h.
#include "tensor/op_stats.h"

namespace fer {

namespace {
thread_local MacCounter* t_counter = nullptr;
}

MacCounter::MacCounter() : previous_(t_counter) { t_counter = this; }
MacCounter::~MacCounter() { t_counter = previous_; }

void count_macs(int64_t macs) {
  for (MacCounter* c = t_counter; c != nullptr; c = c->previous_) c->macs_ += macs;
}

}  // namespace fer
